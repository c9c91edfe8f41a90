"""The odd recordings visitors really have: each is read as 16 kHz mono, or refused with a message naming the file.
The files are the fault corpus's (modrwkv/bench/fault_corpus.py), made of a two-second tone whose length shows that
the whole file was read."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modrwkv.bench.fault_corpus import (
    PNG_HEADER,
    Maker,
    channels,
    clipped,
    encoded,
    raw_bytes,
    renamed,
    voice_tone,
    wav,
    with_nans,
)
from modrwkv.encoders.media import SAMPLE_RATE, MediaError, load_audio

SECONDS = 2.0

READ: dict[str, Maker] = {
    "clipped.wav": wav(clipped(voice_tone(SAMPLE_RATE)), SAMPLE_RATE),
    "six-channels-48k.wav": wav(channels(voice_tone(48_000), 6), 48_000),
    "phone-8k-mulaw.wav": wav(voice_tone(8_000), 8_000, "ULAW"),
    "silence.wav": wav(np.zeros(int(SAMPLE_RATE * SECONDS), np.float32), SAMPLE_RATE),
    "voice.mp3": encoded(voice_tone(44_100), 44_100, "mp3", "mp3"),
    "voice.m4a": encoded(voice_tone(44_100), 44_100, "aac", "mp4"),
    "voice.opus": encoded(voice_tone(48_000), 48_000, "libopus", "ogg"),
    "clip.mp4": encoded(voice_tone(44_100), 44_100, "aac", "mp4", with_video=True),
    "really-a-wav.mp3": renamed(wav(voice_tone(22_050), 22_050), ".wav"),
    "really-an-m4a.wav": renamed(encoded(voice_tone(44_100), 44_100, "aac", "mp4"), ".m4a"),
}
REFUSED: dict[str, tuple[Maker, str]] = {
    "empty.wav": (wav(np.zeros(0, np.float32), SAMPLE_RATE), "empty"),
    "nan.wav": (wav(with_nans(voice_tone(SAMPLE_RATE)), SAMPLE_RATE, "FLOAT"), "NaN"),
    "photo.wav": (raw_bytes(PNG_HEADER), "no audio stream"),
}


@pytest.mark.parametrize("name", sorted(READ))
def test_an_odd_but_valid_recording_is_read_as_16k_mono(tmp_path: Path, name: str) -> None:
    READ[name](tmp_path / name)
    wave = load_audio(str(tmp_path / name))
    assert wave.ndim == 1 and abs(len(wave) / SAMPLE_RATE - SECONDS) < 0.1 and np.isfinite(wave).all()


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_recording_that_cannot_be_used_is_refused_by_name(tmp_path: Path, name: str) -> None:
    make, says = REFUSED[name]
    make(tmp_path / name)
    with pytest.raises(MediaError, match=says) as refused:
        load_audio(str(tmp_path / name))
    assert name in str(refused.value)
