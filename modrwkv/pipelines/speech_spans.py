"""Where to cut a recording for a windowed transcriber: around its speech, at its pauses.

A window that ends inside a word loses that word in both windows, and a window of silence invites a model to make
text up. So the recording's quiet stretches are found from frame energies, the speech between them is packed into
windows of at most the encoder's length, and a stretch of speech longer than a window is cut at its quietest frame
near the window's end. By hand in numpy: librosa.effects.split finds the same stretches, but importing librosa
compiles numba kernels for many seconds on a small CPU, and the packing and cutting are ours anyway.
"""
from __future__ import annotations

import numpy as np

FRAME_SECONDS = 0.02
QUIET_DB = 35.0  # frames this far below the recording's loud frames (its 95th percentile) are quiet
FLOOR_DB = -70.0  # and frames below this level are quiet whatever the recording's loudness
PAUSE_SECONDS = 0.3  # a quiet stretch at least this long separates two pieces of speech
PAD_SECONDS = 0.15  # kept around speech so that word onsets and endings are not clipped
JOIN_SECONDS = 1.0  # pieces closer than this share a window (one encoder call); farther ones get their own cue
CUT_SEARCH = 0.35  # an overlong piece is cut at its quietest frame in the last 35% of a window
PITCH_HZ = (60.0, 400.0)  # the range of voice pitch a voiced frame repeats at
VOICED_CORRELATION = 0.5  # how closely a voiced frame repeats itself one pitch period later
FFT_BLOCK_FRAMES = 256  # frames transformed at once when finding the voiced ones
MIN_VOICED_SECONDS = 0.1  # a window with less voicing than this is noise, not speech


def frame_energy(samples: np.ndarray, frame: int) -> np.ndarray:
    """Each frame's mean power in dB (the last frame zero-padded)."""
    n = -(-len(samples) // frame)
    padded = np.zeros(n * frame, dtype=np.float64)
    padded[: len(samples)] = samples
    return 10 * np.log10(np.mean(padded.reshape(n, frame) ** 2, axis=1) + 1e-12)


def voiced_frames(samples: np.ndarray, frame: int, sample_rate: int) -> np.ndarray:
    """Per frame of `frame` samples: whether it repeats itself at a voice's pitch (normalised autocorrelation above
    VOICED_CORRELATION at a lag within PITCH_HZ, past its first zero crossing, so that the slow correlation of
    rumble or brown noise does not count). Hiss, noise and clicks are unvoiced; vowels are voiced."""
    n = len(samples) // frame
    if n == 0:
        return np.zeros(0, dtype=bool)
    x = samples[: n * frame].astype(np.float64).reshape(n, frame)
    x = x - x.mean(axis=1, keepdims=True)
    lo, hi = int(sample_rate / PITCH_HZ[1]), min(frame - 1, int(sample_rate / PITCH_HZ[0]))
    size = 1 << int(np.ceil(np.log2(2 * frame)))
    # the autocorrelation is the inverse transform of the power spectrum; a block of frames at a time keeps the
    # spectra in cache (a recording's whole spectrum at once is hundreds of MB and several times slower)
    r = np.empty((n, hi + 1))
    for start in range(0, n, FFT_BLOCK_FRAMES):
        spectrum = np.fft.rfft(x[start: start + FFT_BLOCK_FRAMES], size, axis=1)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        r[start: start + FFT_BLOCK_FRAMES] = np.fft.irfft(power, size, axis=1)[:, : hi + 1]
    r = r / np.maximum(r[:, :1], 1e-12) * frame / (frame - np.arange(hi + 1))  # unbiased: shorter overlaps
    crossed = np.maximum.accumulate(r < 0, axis=1)  # at or past the first zero crossing
    peak = np.where(crossed[:, lo:], r[:, lo:], -1.0).max(axis=1)
    return peak > VOICED_CORRELATION


def speech_spans(samples: np.ndarray, max_seconds: float, sample_rate: int = 16_000) -> list[tuple[int, int]]:
    """(begin, end) sample ranges, in order and not overlapping, each at most `max_seconds`, that hold every stretch
    of speech in `samples` (mono) and leave out the silences longer than a pause between them, and windows of
    noise without voicing (no window at all for a recording of noise alone)."""
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    frame = max(1, int(FRAME_SECONDS * sample_rate))
    if len(samples) == 0:
        return []
    energy = frame_energy(samples, frame)
    voiced = (energy > np.percentile(energy, 95) - QUIET_DB) & (energy > FLOOR_DB)
    pieces = _pieces(voiced, pause=max(1, round(PAUSE_SECONDS / FRAME_SECONDS)))
    pad, longest = round(PAD_SECONDS / FRAME_SECONDS), max(1, int(max_seconds / FRAME_SECONDS))
    join = round(JOIN_SECONDS / FRAME_SECONDS)
    pieces = [(max(0, a - pad), min(len(energy), b + pad)) for a, b in pieces]
    windows: list[tuple[int, int]] = []
    for a, b in pieces:
        if windows and a - windows[-1][1] < join and b - windows[-1][0] <= longest:  # fits in the open window
            windows[-1] = (windows[-1][0], b)
            continue
        a = max(a, windows[-1][1]) if windows else a
        while b - a > longest:  # longer than a window: cut at its quietest frame near the window's end
            search = energy[a + int(longest * (1 - CUT_SEARCH)) : a + longest][::-1]
            cut = a + longest - int(np.argmin(search))  # the latest of the quietest frames: windows stay long
            windows.append((a, cut))
            a = cut
        windows.append((a, b))
    total, voiced_frames_of = len(samples), voiced_frames(samples, 2 * frame, sample_rate)
    min_voiced = MIN_VOICED_SECONDS / (2 * FRAME_SECONDS)
    return [
        (a * frame, min(b * frame, total))
        for a, b in windows
        if a * frame < total and voiced_frames_of[a // 2 : -(-b // 2)].sum() >= min_voiced
    ]


def _pieces(voiced: np.ndarray, pause: int) -> list[tuple[int, int]]:
    """Frame ranges of speech: runs of voiced frames, joined across quiet runs shorter than `pause`."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], voiced.astype(np.int8), [0]))))
    pieces: list[tuple[int, int]] = []
    for start, end in zip(edges[::2], edges[1::2]):
        if pieces and start - pieces[-1][1] < pause:
            pieces[-1] = (pieces[-1][0], int(end))
        else:
            pieces.append((int(start), int(end)))
    return pieces
