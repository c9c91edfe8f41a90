"""Loading encoder inputs (images, audio, time series and the tables they come in) with errors a user can act on.

Every refusal is a `MediaError` (a `ValueError`) whose message names the input and what was wrong,
so the UI can show it as is.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:  # pandas is imported where a table is read: the image and audio encoders never need it
    import pandas as pd

SAMPLE_RATE = 16_000  # every audio encoder here was trained on 16 kHz mono
MAX_IMAGE_PIXELS = 16_000_000  # larger images are downscaled to this many pixels, keeping the aspect ratio
IMAGE_FORMATS = "PNG, JPEG, WebP, GIF, BMP, TIFF (any format Pillow opens)"
AUDIO_FORMATS = "WAV, FLAC, OGG/Vorbis, Opus, MP3, M4A/AAC (libsndfile, or FFmpeg through PyAV)"
TABLE_FORMATS = (
    ".csv or .tsv with a header row (comma, semicolon or tab separated; UTF-8, UTF-16 or Latin-1), "
    "or .xlsx (its first sheet)"
)
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")

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
    except Image.DecompressionBombError:  # Pillow refuses above twice its warning limit
        raise MediaError(
            f"'{path}' has too many pixels to decode safely; accepted formats: {IMAGE_FORMATS}, of up to "
            f"{2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
        ) from None
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
    if image.mode.startswith("I"):  # 16- or 32-bit grey: Pillow's convert clips it to 255 (a white picture)
        grey = np.asarray(image, dtype=np.float64)
        top = 255.0 if grey.max() <= 255 else 65535.0 if grey.max() <= 65535 else float(grey.max())
        return Image.fromarray((np.clip(grey, 0, top) / top * 255).round().astype(np.uint8)).convert("RGB")
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
        raise MediaError(f"{what} contains NaN or infinite samples: export it again with finite samples (16-bit PCM "
                         "WAV, for one)")
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


# Tables (the forecast tab's uploads): a CSV as a spreadsheet or a script wrote it, decoded, split and with its
# numbers read as numbers, so that a column is judged by its values and not by how they were typed.

SNIFF_CHARS = 64_000  # the separator is guessed from the first lines: hundreds of rows, and quick on any file
SEPARATORS = ",;\t|"
NUMBER_SAMPLE = 1_000  # a text column is tried as numbers on its first cells before all of them (most are words)
_BOMS = (  # UTF-32's marks first: UTF-32-LE's begins with UTF-16-LE's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ZIP = b"PK\x03\x04"  # an .xlsx workbook is a zip archive
_SPACES = " \u00a0\u202f"  # a space, a no-break space and a narrow no-break space group thousands in many locales
# (thousands separators, decimal mark) as people write numbers, "" for no grouping: "1,230.5", "1 230,5", "1'230.5"
_DOT_DECIMAL = (("", "."), (",", "."), (_SPACES, "."), ("'\u2019", "."))
_COMMA_DECIMAL = (("", ","), (".", ","), (_SPACES, ","))


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    """A table from a .csv/.tsv file (any of `SEPARATORS`; UTF-8, UTF-16 or UTF-32 with a byte-order mark, UTF-16
    without one, else Windows-1252/Latin-1) or the first sheet of an .xlsx workbook; the first row names the columns.

    Text columns whose every cell is a number written with thousands separators or a decimal comma ("1,230",
    "1 230", "3,14") become numeric. Refusals name the file by its name only: an upload's folder is a temporary
    one the user never chose.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise MediaError(f"'{path.name}' is not a CSV, TSV or .xlsx file; accepted formats: {TABLE_FORMATS}")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise MediaError(f"'{path.name}' could not be opened ({e.strerror or type(e).__name__})") from None
    if suffix == ".xlsx" or raw.startswith(_ZIP):  # also a workbook saved under a .csv name
        table, decimal = _read_workbook(path), "."
    else:
        text = _decode(raw, path.name)
        separator = "\t" if suffix == ".tsv" else _separator(text)
        decimal = "," if separator == ";" else "."  # a semicolon separates where the comma is the decimal mark
        table = _read_delimited(text, separator, decimal, path.name)
    return _with_numbers(_named_columns(table), decimal)


def _decode(raw: bytes, name: str) -> str:
    """The file's text: by its byte-order mark, else UTF-16 if zeros fill every other byte, else UTF-8, else the
    Windows-1252 that Excel and older Windows tools save (Latin-1 for its few undefined bytes: it reads any byte)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _decoded(raw[len(bom) :], encoding, name)
    head = raw[:4096]
    if 0 in head:
        # UTF-16 zeroes the high byte of every digit, separator and Latin letter: zeros on one side only
        odd, even = head[1::2].count(0) / max(1, len(head) // 2), head[0::2].count(0) / max(1, (len(head) + 1) // 2)
        if odd > 0.5 and even < 0.1:
            return _decoded(raw, "utf-16-le", name)
        if even > 0.5 and odd < 0.1:
            return _decoded(raw, "utf-16-be", name)
        raise MediaError(f"'{name}' is not a text file (it holds binary data); accepted formats: {TABLE_FORMATS}")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _decoded(raw: bytes, encoding: str, name: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise MediaError(
            f"'{name}' looks like {encoding.upper()} text but byte {e.start} is not ({e.reason}); save it again as "
            f"UTF-8; accepted formats: {TABLE_FORMATS}"
        ) from None


def _separator(text: str) -> str:
    """The column separator, guessed from the first lines; a comma when there is nothing to tell (one column)."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS:  # a cut line would count fewer separators than the others
        sample = sample[: sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def _read_delimited(text: str, separator: str, decimal: str, name: str) -> pd.DataFrame:
    import pandas as pd

    if not text.strip():
        raise MediaError(f"'{name}' is empty: it needs a header row and data rows; accepted formats: {TABLE_FORMATS}")
    try:
        # low_memory=False: each column's type is judged on all of it, not per chunk of a large file
        return pd.read_csv(io.StringIO(text), sep=separator, decimal=decimal, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise MediaError(
            f"'{name}' could not be read as a table ({reason}); accepted formats: {TABLE_FORMATS}"
        ) from None


def _read_workbook(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        import openpyxl  # noqa: F401  (pandas' own ImportError does not say which file needed it)
    except ImportError:
        raise MediaError(
            f"'{path.name}' is an Excel workbook; reading one needs openpyxl (pip install openpyxl)"
        ) from None
    try:
        return pd.read_excel(path, sheet_name=0, engine="openpyxl")
    except Exception as e:  # openpyxl and zipfile raise many types for a damaged or mislabelled file
        reason = str(e).replace(str(path), path.name) or type(e).__name__
        raise MediaError(
            f"'{path.name}' could not be read as an .xlsx workbook ({reason}); accepted formats: {TABLE_FORMATS}"
        ) from None


def _named_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Column names as text without surrounding spaces ("date; sales" leaves " sales"), unless that makes two equal."""
    names = [str(c).strip() for c in table.columns]
    return table.set_axis(names, axis=1) if len(set(names)) == len(names) else table


def _with_numbers(table: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """The table with each text column that holds only numbers (however grouped) converted to numbers."""
    import pandas as pd

    converted = {}
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        numbers = _text_numbers(values, decimal)
        if numbers is not None:
            converted[column] = numbers
    return table.assign(**converted) if converted else table


def _text_numbers(values: pd.Series, decimal: str) -> pd.Series | None:
    """`values` as numbers in the first notation that reads every non-empty cell, or None when none does. Each
    notation is tried on the first cells before the whole column, since most text columns are words.

    The file's own decimal mark is tried first: "1,230" is 1230 beside commas as separators, 1.23 beside semicolons.
    """
    sample = _filled_cells(values.dropna().iloc[:NUMBER_SAMPLE])
    if sample.empty:
        return None
    notations = _DOT_DECIMAL + _COMMA_DECIMAL if decimal == "." else _COMMA_DECIMAL + _DOT_DECIMAL
    for thousands, mark in notations:
        pattern = _number_pattern(thousands, mark)
        if sample.str.fullmatch(pattern).all():
            text = _filled_cells(values)
            if text.str.fullmatch(pattern).all():
                return _as_numbers(text, thousands, mark).reindex(values.index)
    return None


def _filled_cells(values: pd.Series) -> pd.Series:
    """The non-empty cells as text without surrounding spaces."""
    text = values.dropna().astype(str).str.strip()
    return text[text != ""]


def _as_numbers(text: pd.Series, thousands: str, decimal: str) -> pd.Series:
    import pandas as pd

    if thousands:
        text = text.str.replace(f"[{re.escape(thousands)}]", "", regex=True)
    return pd.to_numeric(text.str.replace(decimal, ".", regex=False))


def _number_pattern(thousands: str, decimal: str) -> str:
    """A regular expression for a number grouped by any of `thousands` (in threes) with the `decimal` mark."""
    whole = rf"\d{{1,3}}(?:[{re.escape(thousands)}]\d{{3}})+|\d+" if thousands else r"\d+"
    return rf"[+-]?(?:{whole})(?:{re.escape(decimal)}\d+)?(?:[eE][+-]?\d+)?"
