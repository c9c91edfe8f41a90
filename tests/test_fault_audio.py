"""The odd recordings visitors really have: each is read as 16 kHz mono, or refused with a message naming the file."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from modrwkv.encoders.media import SAMPLE_RATE, MediaError, load_audio

SECONDS = 2.0


def _voice(rate: int) -> np.ndarray:
    t = np.arange(int(rate * SECONDS)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def _encoded(codec: str, rate: int, container: str, with_video: bool = False) -> Callable[[Path], None]:
    """Write two seconds of a voice-like tone through FFmpeg (PyAV) as `codec` in `container`."""

    def write(path: Path) -> None:
        with av.open(str(path), "w", format=container) as out:
            video = out.add_stream("mpeg4", rate=10) if with_video else None
            if video is not None:
                video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            audio = out.add_stream(codec, rate=rate, layout="mono")
            samples = _voice(rate)
            for i in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(samples[None, i : i + 1024], format="flt", layout="mono")
                frame.sample_rate = rate
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
            if video is not None:
                for _ in range(20):
                    out.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
                out.mux(video.encode(None))

    return write


def _wav(samples: np.ndarray, rate: int, subtype: str | None = None) -> Callable[[Path], None]:
    return lambda path: sf.write(path, samples, rate, subtype=subtype)


def _six_channels(path: Path) -> None:
    sf.write(path, np.stack([_voice(48_000)] * 6, axis=1), 48_000)


def _wav_named_mp3(path: Path) -> None:
    sf.write(path, _voice(22_050), 22_050, format="WAV")


READ = {
    "clipped.wav": _wav(np.clip(_voice(SAMPLE_RATE) * 10, -1, 1), SAMPLE_RATE),
    "six-channels-48k.wav": _six_channels,
    "phone-8k-mulaw.wav": _wav(_voice(8_000), 8_000, "ULAW"),
    "silence.wav": _wav(np.zeros(int(SAMPLE_RATE * SECONDS), np.float32), SAMPLE_RATE),
    "voice.mp3": _encoded("mp3", 44_100, "mp3"),
    "voice.m4a": _encoded("aac", 44_100, "mp4"),
    "voice.opus": _encoded("libopus", 48_000, "ogg"),
    "clip.mp4": _encoded("aac", 44_100, "mp4", with_video=True),
    "really-a-wav.mp3": _wav_named_mp3,
}
REFUSED = {
    "empty.wav": (_wav(np.zeros(0, np.float32), SAMPLE_RATE), "empty"),
    "nan.wav": (_wav(np.where(np.arange(32_000) % 500 == 0, np.nan, _voice(SAMPLE_RATE)), SAMPLE_RATE, "FLOAT"), "NaN"),
    "photo.wav": (lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), "no audio stream"),
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
