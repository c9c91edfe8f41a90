"""Cutting a recording for the windowed transcriber: windows hold the speech, skip long silences, never exceed the
encoder's length, and fall at pauses rather than inside words."""
from __future__ import annotations

import numpy as np
import pytest

from modrwkv.pipelines.speech_spans import speech_spans

SR = 16_000


def word(seconds: float, pitch: float = 220.0) -> np.ndarray:
    """A voiced, syllable-like sound: a tone whose loudness rises and falls four times a second."""
    t = np.arange(int(SR * seconds)) / SR
    return (0.2 * np.sin(2 * np.pi * pitch * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def silence(seconds: float, level: float = 0.0) -> np.ndarray:
    return (level * np.random.default_rng(0).standard_normal(int(SR * seconds))).astype(np.float32)


def seconds(spans: list[tuple[int, int]]) -> list[tuple[float, float]]:
    return [(round(a / SR, 2), round(b / SR, 2)) for a, b in spans]


def test_a_long_silence_between_two_sentences_is_left_out():
    audio = np.concatenate([word(3.0), silence(10.0), word(2.0)])
    spans = seconds(speech_spans(audio, max_seconds=8.0))
    assert len(spans) == 2
    assert spans[0][0] == 0.0 and 3.0 <= spans[0][1] <= 3.2
    assert 12.8 <= spans[1][0] <= 13.0 and spans[1][1] == 15.0


def test_speech_longer_than_a_window_is_cut_in_its_pauses():
    pieces = [part for i in range(12) for part in (word(1.5, 200 + 20 * i), silence(0.4))]
    audio = np.concatenate(pieces)
    spans = speech_spans(audio, max_seconds=8.0)
    gaps = [(1.5 + 1.9 * i, 1.9 * (i + 1)) for i in range(12)]
    assert len(spans) == 3 and all((b - a) / SR <= 8.0 for a, b in spans)
    for _, end in spans[:-1]:
        assert any(lo <= end / SR <= hi for lo, hi in gaps), f"cut at {end / SR:.2f} s is inside a word"


def test_every_bit_of_speech_is_in_exactly_one_window():
    audio = np.concatenate([word(6.0), silence(0.5), word(7.0), silence(2.0), word(1.0)])
    spans = speech_spans(audio, max_seconds=5.0)
    covered = np.zeros(len(audio), dtype=int)
    for a, b in spans:
        covered[a:b] += 1
    loud = np.abs(audio) > 0.05
    assert covered.max() == 1 and covered[loud].min() == 1
    assert all((b - a) / SR <= 5.0 for a, b in spans)


def test_speech_without_any_pause_is_cut_at_the_window_length():
    hum = 0.2 * np.sin(2 * np.pi * 150 * np.arange(SR * 20) / SR)  # a held vowel: voiced, steady, no pause
    spans = speech_spans(hum.astype(np.float32), max_seconds=8.0)
    assert len(spans) == 3 and spans[0][0] == 0 and spans[-1][1] == SR * 20
    assert all((b - a) / SR <= 8.0 for a, b in spans)


def test_a_quiet_hiss_under_the_speech_counts_as_silence():
    audio = np.concatenate([silence(4.0, level=0.001), word(2.0)]) + silence(6.0, level=0.001)
    assert seconds(speech_spans(audio, max_seconds=8.0))[0][0] >= 3.8


def test_an_empty_recording_has_no_windows_and_a_bad_length_is_refused():
    assert speech_spans(np.zeros(0, dtype=np.float32), max_seconds=8.0) == []
    with pytest.raises(ValueError, match="max_seconds"):
        speech_spans(word(1.0), max_seconds=0)


def test_noise_without_a_voice_has_no_windows():
    rng = np.random.default_rng(1)
    white = 0.1 * rng.standard_normal(SR * 10)
    brown = np.cumsum(rng.standard_normal(SR * 10))
    brown = 0.3 * (brown - brown.mean()) / np.abs(brown - brown.mean()).max()
    for noise in (white, brown):
        assert speech_spans(noise.astype(np.float32), max_seconds=8.0) == []


def test_a_voice_in_noise_is_still_found():
    rng = np.random.default_rng(2)
    audio = np.concatenate([silence(3.0), word(2.0), silence(3.0)])
    noisy = (audio + 0.02 * rng.standard_normal(len(audio))).astype(np.float32)
    spans = seconds(speech_spans(noisy, max_seconds=8.0))
    assert len(spans) == 1 and spans[0][0] <= 3.0 <= 5.0 <= spans[0][1]
