"""The bundled speech model (assets/models/speech-whisper-tiny) scores on this machine what its card says.

Recordings of held-out sentences are made again exactly as the recipe made them (espeak-ng, seeded voices and
degradations), and one real codec2-examples recording is transcribed, through `Transcriber` as the app does. Each
WER must stay within MARGIN of the WER that eval.json (the model card's source) reports for the same clips.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from modrwkv.multimodal import ModRWKV
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train.metrics import wer
from modrwkv.train.recipes import speech
from modrwkv.train.recipes import speech_corpus as corpus

BUNDLE = Path(__file__).resolve().parents[1] / speech.BUNDLE_DIR
CLIPS = 4  # the first held-out recordings: few, as encoding each one is slow on a CPU
MARGIN = 0.1  # absolute WER: another CPU's float rounding may change a greedy choice or two
REAL_CLIP = corpus.CODEC2 / "wav/mmt1.wav"  # a Harvard sentence, 4 s


@pytest.fixture(scope="module")
def model() -> ModRWKV:
    return ModRWKV.from_pretrained(BUNDLE)


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((BUNDLE / "eval.json").read_text())


def card_wer(card: dict, section: str, clips: list[str]) -> float:
    examples = {e["clip"]: e for e in card[section]["examples"]}
    return wer([examples[c]["reference"] for c in clips], [examples[c]["prediction"] for c in clips])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng to make the recordings")
def test_held_out_synthetic_recordings_are_transcribed_as_well_as_the_card_says(model, card, tmp_path):
    texts = corpus.utterances(speech.HELD_OUT_CLIPS, speech.SEED + 1, held_out=True)[:CLIPS]
    audio = []
    for i, text in enumerate(texts):  # through a 16-bit WAV file, as the recipe stored them
        corpus.write_wav(tmp_path / f"{i}.wav", corpus.record(text, speech.clip_seed("held_out", i)))
        audio.append(sf.read(tmp_path / f"{i}.wav", dtype="float32"))
    got = wer(texts, speech.transcribe(model, RWKVTokenizer(), audio))
    expected = card_wer(card, "synthetic_held_out", [f"clips/held_out/{i:05d}.wav" for i in range(CLIPS)])
    assert got <= expected + MARGIN, f"WER {got:.3f} on {CLIPS} held-out clips; eval.json says {expected:.3f}"


@pytest.mark.skipif(not REAL_CLIP.exists(), reason="needs codec2-examples (apt-get install codec2-examples)")
def test_a_real_recording_is_transcribed_as_well_as_the_card_says(model, card):
    clip = next(c for c in corpus.CODEC2_CLIPS if c.path == REAL_CLIP)
    got = wer([clip.text], speech.transcribe(model, RWKVTokenizer(), [clip.audio()]))
    expected = card_wer(card, "codec2_harvard", [str(REAL_CLIP)])
    assert got <= expected + MARGIN, f"WER {got:.3f} on {REAL_CLIP.name}; eval.json says {expected:.3f}"
