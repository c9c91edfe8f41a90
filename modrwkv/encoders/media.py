"""Loading encoder inputs (images, audio, time series) with errors a user can act on.

Every refusal is a `MediaError` (a `ValueError`) whose message names the input and what was wrong,
so the UI can show it as is.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SAMPLE_RATE = 16_000  # every audio encoder here was trained on 16 kHz mono
MAX_IMAGE_PIXELS = 16_000_000  # larger images are downscaled to this many pixels, keeping the aspect ratio
IMAGE_FORMATS = "PNG, JPEG, WebP, GIF, BMP, TIFF (any format Pillow opens)"
AUDIO_FORMATS = "WAV, FLAC, OGG/Vorbis, Opus, MP3, M4A/AAC (libsndfile, or FFmpeg through PyAV)"

ImageInput = str | os.PathLike | Image.Image | np.ndarray
AudioInput = str | os.PathLike | np.ndarray
AudioItem = AudioInput | tuple[np.ndarray, int]  # a path, a 16 kHz array, or (array, sample_rate)


class MediaError(ValueError):
    """An input that cannot be used: unreadable, empty, or of the wrong shape."""


def load_image(source: ImageInput) -> Image.Image:
    """An RGB PIL image from a path, a PIL image or an array ([H, W], [H, W, 3|4]; uint8 or floats in [0, 1]).

    EXIF orientation is applied, transparency is flattened onto white (as a viewer shows it), and images
    over `MAX_IMAGE_PIXELS` are downscaled rather than refused; only files beyond Pillow's own
    decompression-bomb limit (2 x `Image.MAX_IMAGE_PIXELS`, ~179 MP by default) are refused.
    """
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        image = _image_from_array(source)
    elif isinstance(source, (str, os.PathLike)):
        image = _open_image(Path(source))
    else:
        raise MediaError(f"an image must be a path, a PIL image or a numpy array, not {type(source).__name__}")
    image = _shrunk(image)
    image = ImageOps.exif_transpose(image)
    return _to_rgb(image)


def _open_image(path: Path) -> Image.Image:
    if not path.is_file():
        raise MediaError(f"image file not found: '{path}'")
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x Image.MAX_IMAGE_PIXELS Pillow only warns; we downscale such images anyway.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            # Decode at 1/2, 1/4 or 1/8 scale where the codec can (JPEG) and the result still covers the target.
            image.draft(None, _target_size(image.size))
            image.load()
    except UnidentifiedImageError:
        raise MediaError(f"'{path}' is not an image Pillow can read; accepted formats: {IMAGE_FORMATS}") from None
    except Image.DecompressionBombError as e:
        raise MediaError(f"'{path}' is too large to decode safely: {e}") from None
    except OSError as e:  # truncated or corrupt data after a valid header
        raise MediaError(
            f"'{path}' could not be decoded as an image ({e}); accepted formats: {IMAGE_FORMATS}"
        ) from None
    return image


def _image_from_array(array: np.ndarray) -> Image.Image:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)) or array.size == 0:
        raise MediaError(f"an image array must be [H, W] or [H, W, 1|3|4], got shape {list(array.shape)}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if np.issubdtype(array.dtype, np.floating):
        array = (np.clip(array, 0.0, 1.0) * 255.0).round()
    return Image.fromarray(array.astype(np.uint8))


def _target_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, (MAX_IMAGE_PIXELS / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _shrunk(image: Image.Image) -> Image.Image:
    target = _target_size(image.size)
    if target == image.size:
        return image
    # reducing_gap: box-reduce by an integer factor first, then resample; fast and alias-free.
    return image.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_audio(source: AudioInput, sample_rate: int | None = None) -> np.ndarray:
    """A float32 mono waveform at 16 kHz from a file (one of AUDIO_FORMATS) or an array.

    Arrays are [T] or two-dimensional with channels on the shorter axis ([T, C] as soundfile and Gradio
    give, or [C, T] as librosa gives); integer samples are scaled to [-1, 1]. `sample_rate` is the
    array's rate (required for arrays, ignored for files). Stereo is averaged to mono.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise MediaError(f"audio file not found: '{path}'")
        wave, rate = _read_audio_file(path)
        if wave.size:
            wave = resample(wave, rate)
        what = f"'{path}'"
    elif isinstance(source, np.ndarray):
        if sample_rate is None:
            raise MediaError("an audio array needs its sample rate")
        wave = _mono(source)
        if wave.size:
            wave = resample(wave, sample_rate)
        what = "the audio array"
    else:
        raise MediaError(f"audio must be a path or a numpy array, not {type(source).__name__}")
    if wave.size == 0:
        raise MediaError(f"{what} is empty (zero samples): there is no sound to encode")
    if not np.isfinite(wave).all():
        raise MediaError(f"{what} contains NaN or infinite samples")
    return np.ascontiguousarray(wave, dtype=np.float32)


def resample(wave: np.ndarray, rate: int) -> np.ndarray:
    """A mono waveform at `rate` Hz, brought to 16 kHz by soxr's high-quality band-limited resampler.

    The call librosa.resample makes by default, made directly: importing librosa compiles its numba kernels, slow in
    a fresh install and still noticeable once cached, which a first transcription would wait for."""
    import soxr

    if rate == SAMPLE_RATE:
        return wave
    out = soxr.resample(wave, rate, SAMPLE_RATE, quality="HQ")
    n = int(np.ceil(wave.shape[-1] * SAMPLE_RATE / rate))  # librosa's length, padded or trimmed to it
    return np.pad(out, (0, max(0, n - out.shape[-1])))[:n]


def audio_duration(path: str | os.PathLike) -> float:
    """Seconds of audio in a file, from its header (no decode), so that a length limit is checked up front."""
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except (soundfile.LibsndfileError, RuntimeError):
        pass
    try:
        with _open_av(path) as container:
            stream = container.streams.audio[0]
            if stream.duration is not None:
                return float(stream.duration * stream.time_base)
            return float(container.duration) / 1_000_000  # av.time_base: microseconds
    except MediaError:
        raise
    except Exception as e:  # FFmpeg's errors have many types
        raise MediaError(f"'{Path(path).name}' could not be read as audio ({_ffmpeg_cause(e)}); accepted formats: "
                         f"{AUDIO_FORMATS}") from e


def _read_audio_file(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate: libsndfile for what it reads (fast), FFmpeg (PyAV) for the rest (M4A)."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data.mean(axis=1), int(rate)
    except (soundfile.LibsndfileError, RuntimeError):
        pass
    try:
        with _open_av(path) as container:
            stream = container.streams.audio[0]
            chunks = [frame.to_ndarray() for frame in container.decode(stream)]
            rate = stream.codec_context.sample_rate
    except MediaError:
        raise
    except Exception as e:  # FFmpeg's errors have many types
        raise MediaError(f"'{path.name}' could not be decoded as audio ({_ffmpeg_cause(e)}); accepted formats: "
                         f"{AUDIO_FORMATS}") from e
    if not chunks:
        return np.zeros(0, np.float32), rate
    # planar frames are [channels, samples], packed ones [1, samples * channels]
    channels = stream.codec_context.channels
    wave = np.concatenate([c.reshape(channels, -1) if c.shape[0] == 1 and channels > 1 else c for c in chunks], axis=1)
    if np.issubdtype(wave.dtype, np.integer):
        wave = wave / float(np.iinfo(wave.dtype).max + 1)
    return wave.mean(axis=0).astype(np.float32), int(rate)


def _ffmpeg_cause(e: Exception) -> str:
    """FFmpeg's reason without its errno and the file's (often temporary) path, which the message names already."""
    return getattr(e, "strerror", None) or str(e)


def _open_av(path: str | os.PathLike):  # -> av container
    import av

    container = av.open(str(path))
    if not container.streams.audio:
        container.close()
        raise MediaError(f"'{Path(path).name}' has no audio stream; accepted formats: {AUDIO_FORMATS}")
    return container


def load_audio_item(item: AudioItem) -> np.ndarray:
    """`load_audio` for an encoder's input: a path, an array already at 16 kHz, or an (array, sample_rate) pair."""
    if isinstance(item, tuple):
        return load_audio(*item)
    return load_audio(item, SAMPLE_RATE)


def _mono(array: np.ndarray) -> np.ndarray:
    if np.issubdtype(array.dtype, np.integer):
        array = array / float(np.iinfo(array.dtype).max + 1)
    array = array.astype(np.float32, copy=False)
    if array.ndim == 1:
        return array
    if array.ndim != 2:
        raise MediaError(f"an audio array must be [T] or [T, channels], got shape {list(array.shape)}")
    channel_axis = 0 if array.shape[0] < array.shape[1] else 1
    return array.mean(axis=channel_axis)


def load_series(data: Any) -> np.ndarray:
    """A float32 series [T] or [T, channels] from a sequence, numpy array or pandas Series/DataFrame.

    Missing values (NaN) are filled forward (the last observation carries on), then backward for a
    leading gap; a channel with no value at all is refused, as are infinite values.
    """
    try:
        if hasattr(data, "to_numpy"):  # pandas: nullable dtypes (pd.NA) need an explicit NaN
            array = data.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MediaError(f"a time series must hold numbers only ({e})") from None
    if array.ndim not in (1, 2) or array.shape[0] == 0 or array.size == 0:
        raise MediaError(f"a time series must be [T] or [T, channels] with T > 0, got shape {list(array.shape)}")
    if np.isinf(array).any():
        raise MediaError("the time series contains infinite values")
    table = array.reshape(array.shape[0], -1)
    missing = np.isnan(table)
    if missing.all():
        raise MediaError("the time series has no values: every point is missing (NaN)")
    empty = np.flatnonzero(missing.all(axis=0))
    if empty.size:
        raise MediaError(
            f"channel(s) {empty.tolist()} of the time series have no values: every point is missing (NaN)"
        )
    if missing.any():
        table = _fill(table, missing)
    return table.reshape(array.shape).astype(np.float32)


def _fill(table: np.ndarray, missing: np.ndarray) -> np.ndarray:
    rows = np.arange(len(table))[:, None]
    last_seen = np.maximum.accumulate(np.where(missing, 0, rows), axis=0)
    filled = np.take_along_axis(table, last_seen, axis=0)
    first_value = np.take_along_axis(table, (~missing).argmax(axis=0)[None], axis=0)
    return np.where(np.isnan(filled), first_value, filled)
