"""The fault corpus: the odd files visitors really upload, written on demand (never kept in git).

Images (decompression bomb, CMYK, 16-bit, animated, WebP, AVIF, EXIF-rotated, one pixel, truncated, a PDF named .png),
recordings (empty, silent, clipped, NaN samples, 6 channels at 48 kHz, 8 kHz mu-law, ten minutes of noise, MP3, M4A,
Ogg/Opus, a video with sound, wrong extensions) and tables (separators, decimal commas, encodings, byte order marks,
thousands separators, years, quarters, unsorted, duplicate and missing times, constant, empty or single-row targets, a
million rows, workbooks). Each `Fault` says which endpoint takes the file and what a correct answer or refusal
contains; `modrwkv.bench.fault_corpus_run` drives them through the app.

The makers are the library tests' too (tests/test_fault_images.py, test_fault_audio.py, test_csv_uploads.py): they
take the picture, samples or values to write, so a test can check what is read back.
"""
from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
EXAMPLE_IMAGE = EXAMPLES / "easy_vqa_circle.png"  # the bundled vision model answers "circle" about it
EXAMPLE_SPEECH = EXAMPLES / "speech_weather.wav"  # "It will be sunny and warm tomorrow morning."
EXAMPLE_TABLE = EXAMPLES / "monthly_sales.csv"
SPEECH_WORDS = r"(?i)\b(sunny|warm|tomorrow|morning|will)\b"  # a transcript of EXAMPLE_SPEECH holds some of them
LONG_SECONDS = 10 * 60  # the long recording: ten minutes, as a meeting or lecture
MILLION = 1_000_000

Maker = Callable[[Path], None]  # writes one file at the path it is given

YEARS = np.arange(1950, 2025)
# world population in thousands, growing ~1.7% a year (75 rows: more than the bundled model's shortest history)
POPULATION = (2_536_431 * 1.017 ** (YEARS - 1950)).round().astype(int)
MONTHS = pd.date_range("2015-01-01", periods=60, freq="MS")
SALES = np.round(200 + 20 * np.sin(np.arange(60) * np.pi / 6) + np.arange(60), 1)  # seasonal with a trend


# -- images --------------------------------------------------------------------------------------


def example_picture() -> Image.Image:
    return Image.open(EXAMPLE_IMAGE).convert("RGB")


def noise_photo(width: int = 200, height: int = 120) -> Image.Image:
    """A picture whose size shows whether it was read rotated (wider than high)."""
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8))


def saved(picture: Image.Image, mode: str | None = None, **options: object) -> Maker:
    """`picture` (converted to `mode`) in the format its path's suffix names."""
    return lambda path: (picture.convert(mode) if mode else picture).save(path, **options)


def decompression_bomb(path: Path) -> None:
    """900 megapixels that compress to a few kilobytes: beyond the limit Pillow refuses to decode."""
    Image.new("1", (30_000, 30_000)).save(path)


def grey_16bit(levels: np.ndarray) -> Maker:
    """A 16-bit greyscale PNG of `levels` (uint16), as scanners and medical imaging write."""
    return lambda path: Image.fromarray(levels.astype(np.uint16)).save(path)


def picture_levels_16bit(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("L"), dtype=np.uint16) * 257  # 255 -> 65535


def animated_gif(frames: list[Image.Image]) -> Maker:
    def write(path: Path) -> None:
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)

    return write


def exif_rotated(picture: Image.Image) -> Maker:
    """`picture` stored sideways with the EXIF orientation a phone writes, "rotate 90 degrees clockwise to display"."""

    def write(path: Path) -> None:
        exif = Image.Exif()
        exif[0x0112] = 6
        picture.save(path, exif=exif)

    return write


def truncated_image(picture: Image.Image, fmt: str) -> Maker:
    """The first half of `picture` encoded as `fmt`: an upload cut off midway."""

    def write(path: Path) -> None:
        whole = io.BytesIO()
        picture.save(whole, fmt)
        path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])

    return write


def raw_bytes(data: bytes) -> Maker:
    return lambda path: path.write_bytes(data)


PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
PNG_HEADER = b"\x89PNG\r\n\x1a\n" + bytes(200)


def heic_unavailable() -> str | None:
    """None where HEIC (iPhone photos) can be written here, else why not: Pillow needs the pillow-heif plugin."""
    try:
        import pillow_heif
    except ImportError:
        return "Pillow writes no HEIC without the pillow-heif plugin, which is not a dependency"
    pillow_heif.register_heif_opener()
    return None


# -- audio ---------------------------------------------------------------------------------------


def voice_tone(rate: int, seconds: float = 2.0) -> np.ndarray:
    """A voice-like 180 Hz tone: its length shows whether a file was read whole."""
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def example_speech(rate: int) -> np.ndarray:
    """The bundled spoken sentence (EXAMPLE_SPEECH), mono, at `rate`."""
    import soxr

    samples, own_rate = sf.read(EXAMPLE_SPEECH, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return mono if own_rate == rate else soxr.resample(mono, own_rate, rate, quality="HQ").astype(np.float32)


def wav(samples: np.ndarray, rate: int, subtype: str | None = None) -> Maker:
    """A WAV file of `samples` ([T] or [T, channels]); `subtype` such as "ULAW" or "FLOAT" (default 16-bit PCM)."""
    return lambda path: sf.write(path, samples, rate, subtype=subtype, format="WAV")


def channels(samples: np.ndarray, count: int) -> np.ndarray:
    """`samples` on each of `count` channels, as a surround or conference recorder writes them."""
    return np.stack([samples] * count, axis=1)


def clipped(samples: np.ndarray, gain: float = 10.0) -> np.ndarray:
    """`samples` recorded far too loud: flattened at full scale."""
    return np.clip(samples * gain, -1.0, 1.0).astype(np.float32)


def with_nans(samples: np.ndarray, every: int = 500) -> np.ndarray:
    """`samples` with a NaN every `every` samples, as a broken float export writes them."""
    return np.where(np.arange(len(samples)) % every == 0, np.nan, samples).astype(np.float32)


def room_noise(seconds: float, rate: int) -> np.ndarray:
    """Hiss without a voice: a recorder left running in an empty room."""
    return (np.random.default_rng(0).normal(0.0, 0.02, int(seconds * rate))).astype(np.float32)


def encoded(samples: np.ndarray, rate: int, codec: str, container: str, with_video: bool = False) -> Maker:
    """Mono `samples` encoded by FFmpeg (PyAV) as `codec` in `container`; with a black video track for a clip."""

    def write(path: Path) -> None:
        import av

        with av.open(str(path), "w", format=container) as out:
            video = out.add_stream("mpeg4", rate=10) if with_video else None
            if video is not None:
                video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            audio = out.add_stream(codec, rate=rate, layout="mono")
            for i in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(samples[None, i : i + 1024], format="flt", layout="mono")
                frame.sample_rate = rate
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
            if video is not None:
                seconds = len(samples) / rate
                for _ in range(int(seconds * 10)):
                    out.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
                out.mux(video.encode(None))

    return write


def renamed(maker: Maker, real_suffix: str) -> Maker:
    """What `maker` writes as a `real_suffix` file, saved under another suffix (a user renamed it)."""

    def write(path: Path) -> None:
        real = path.with_suffix(".real" + real_suffix)
        maker(real)
        real.replace(path)

    return write


# -- tables --------------------------------------------------------------------------------------


def population_csv(columns: tuple[str, str] = ("year", "population")) -> Maker:
    """World population by year: an integer `year` column beside the values, in the order `columns` gives."""
    frame = pd.DataFrame({"year": YEARS, "population": POPULATION})
    return lambda path: frame[list(columns)].to_csv(path, index=False)


def quarters_csv(notation: str = "{year}Q{quarter}") -> Maker:
    """A quarterly GDP series from 2010, its quarters written as `notation` (2010Q1, 2010-Q1)."""
    quarters = [notation.format(year=2010 + i // 4, quarter=i % 4 + 1) for i in range(56)]
    gdp = np.round(100 * 1.006 ** np.arange(56) + np.tile([0.0, 1.5, 2.0, -1.0], 14), 2)
    return lambda path: pd.DataFrame({"quarter": quarters, "gdp": gdp}).to_csv(path, index=False)


def sensor_log_csv(rows: int = MILLION) -> Maker:
    """A logger's file: a `time` counter and temperatures cycling around 20 degrees."""

    def write(path: Path) -> None:
        reading = np.round(20 + 5 * np.sin(np.arange(rows) * 2 * np.pi / 50), 2)
        pd.DataFrame({"time": np.arange(rows), "temperature": reading}).to_csv(path, index=False)

    return write


def thousands_csv(thousands: str = ",") -> Maker:
    """Population typed as a spreadsheet shows it, "2,536,431", quoted, with `thousands` between the digit groups."""
    rows = "".join(f'{y},"{format(p, ",").replace(",", thousands)}"\n' for y, p in zip(YEARS, POPULATION))
    return lambda path: path.write_text("year,population\n" + rows, encoding="utf-8")


def semicolon_decimal_comma_csv(path: Path) -> None:
    """A German export: `;` between cells, dates as 01.02.2015 and decimal commas (3,14)."""
    rows = "".join(f"{m:%d.%m.%Y};{str(s).replace('.', ',')}\n" for m, s in zip(MONTHS, SALES))
    path.write_text("Monat;Umsatz\n" + rows, encoding="utf-8")


def monthly_frame(column: str = "sales") -> pd.DataFrame:
    return pd.DataFrame({"month": MONTHS.strftime("%Y-%m-%d"), column: SALES})


def tab_separated(path: Path) -> None:
    monthly_frame().to_csv(path, sep="\t", index=False)


def with_bom(bom: bytes, encoding: str) -> Maker:
    """Population by `année` in `encoding`, after the byte order mark `bom` (UTF-8, UTF-16 LE or BE)."""
    text = "année,population\n" + "".join(f"{y},{p}\n" for y, p in zip(YEARS, POPULATION))
    return lambda path: path.write_bytes(bom + text.encode(encoding))


def latin1_csv(path: Path) -> None:
    """A German spreadsheet's CSV in Latin-1 (Windows' default), its header with an umlaut."""
    text = "Jahr;Bevölkerung (Tsd.)\n" + "".join(f"{y};{p}\n" for y, p in zip(YEARS, POPULATION))
    path.write_bytes(text.encode("latin-1"))


def shuffled_csv(path: Path) -> None:
    monthly_frame("visits").sample(frac=1.0, random_state=3).to_csv(path, index=False)


def duplicates_csv(path: Path) -> None:
    """The last two months entered twice: 10 below the true value, then 10 above (their average is the truth)."""
    frame = monthly_frame("visits")
    low, high = frame.assign(visits=frame["visits"] - 10), frame.assign(visits=frame["visits"] + 10)
    pd.concat([frame.head(58), low.tail(2), high.tail(2)]).to_csv(path, index=False)


def gaps_csv(path: Path) -> None:
    """Two months missing from a monthly series."""
    monthly_frame().drop(index=[10, 30]).to_csv(path, index=False)


def constant_csv(path: Path) -> None:
    pd.DataFrame({"month": MONTHS.strftime("%Y-%m-%d"), "setpoint": 21.0}).to_csv(path, index=False)


def all_missing_csv(path: Path) -> None:
    """Sales with a `returns` column nobody filled in."""
    monthly_frame().assign(returns=np.nan).to_csv(path, index=False)


def one_row_csv(path: Path) -> None:
    path.write_text("year,population\n2024,8161972\n", encoding="utf-8")


def xlsx_workbook(path: Path) -> None:
    """Monthly sales on the first sheet, a note on the second."""
    with pd.ExcelWriter(path, engine="openpyxl") as workbook:
        pd.DataFrame({"Monat": MONTHS, "Umsatz": SALES}).to_excel(workbook, sheet_name="Daten", index=False)
        pd.DataFrame({"Notiz": ["Quelle: Kasse"]}).to_excel(workbook, sheet_name="Notizen", index=False)


OLD_XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # the OLE2 header of an Excel 97-2003 workbook


# -- the corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One odd file: its name as a user would have it, the endpoint that takes it, how to write it, and what a
    correct response holds: a regex the answer's summary matches or, where `refused`, that the error matches."""

    name: str
    endpoint: str  # "/chat", "/transcribe" or "/forecast"
    what: str
    make: Maker
    expect: str
    refused: bool = False
    options: dict[str, object] = field(default_factory=dict)  # the endpoint's other inputs, where not the defaults


CIRCLE = r"(?i)circle"
ANY_ANSWER = r"\w"


def _images() -> list[Fault]:
    picture = example_picture()
    frames = [picture, picture.rotate(90), picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    faults = [
        Fault("holiday_bomb.png", "/chat", "decompression bomb: 30,000 x 30,000 px in 0.1 MB", decompression_bomb,
              "too many pixels", refused=True),
        Fault("poster_cmyk.jpg", "/chat", "CMYK JPEG (print)", saved(picture, "CMYK"), CIRCLE),
        Fault("scan_16bit.png", "/chat", "16-bit greyscale PNG", grey_16bit(picture_levels_16bit(picture)), ANY_ANSWER),
        Fault("party.gif", "/chat", "animated GIF, 3 frames", animated_gif(frames), CIRCLE),
        Fault("sticker.webp", "/chat", "WebP", saved(picture), CIRCLE),
        Fault("holiday.avif", "/chat", "AVIF (HEIF family, Android phones)", saved(picture), CIRCLE),
        Fault("IMG_0042.jpg", "/chat", "EXIF orientation 6 (phone held upright)", exif_rotated(picture), CIRCLE),
        Fault("pixel.png", "/chat", "1 x 1 pixel", saved(Image.new("RGB", (1, 1), "red")), ANY_ANSWER),
        Fault("beach_truncated.jpg", "/chat", "JPEG cut off halfway", truncated_image(picture, "JPEG"),
              "could not be decoded", refused=True),
        Fault("invoice.png", "/chat", "a PDF named .png", raw_bytes(PDF), "not an image", refused=True),
        Fault("empty.png", "/chat", "0 bytes", raw_bytes(b""), "not an image", refused=True),
    ]
    if heic_unavailable() is None:
        faults.append(Fault("IMG_0043.heic", "/chat", "HEIC (iPhone)", saved(picture), CIRCLE))
    return faults


def _recordings() -> list[Fault]:
    speech = example_speech(16_000)
    return [
        Fault("voice_memo_empty.wav", "/transcribe", "0 s", wav(np.zeros(0, np.float32), 16_000), "too short",
              refused=True),
        Fault("silence.wav", "/transcribe", "5 s of digital silence", wav(np.zeros(80_000, np.float32), 16_000),
              "silent", refused=True),
        Fault("too_loud.wav", "/transcribe", "speech clipped at full scale", wav(clipped(speech), 16_000),
              SPEECH_WORDS),
        Fault("meeting_6ch_48k.wav", "/transcribe", "6 channels at 48 kHz",
              wav(channels(example_speech(48_000), 6), 48_000), SPEECH_WORDS),
        Fault("voicemail_8k.wav", "/transcribe", "8 kHz mu-law (telephone)", wav(example_speech(8_000), 8_000, "ULAW"),
              SPEECH_WORDS),
        Fault("broken_export.wav", "/transcribe", "32-bit float with NaN samples",
              wav(with_nans(speech), 16_000, "FLOAT"), "NaN", refused=True),
        Fault("lecture_hall.wav", "/transcribe", "10 minutes of room noise, no voice",
              wav(room_noise(LONG_SECONDS, 16_000), 16_000), "no speech", refused=True),
        Fault("voice_note.mp3", "/transcribe", "MP3", encoded(example_speech(44_100), 44_100, "mp3", "mp3"),
              SPEECH_WORDS),
        Fault("voice_note.m4a", "/transcribe", "M4A (AAC, iPhone voice memo)",
              encoded(example_speech(44_100), 44_100, "aac", "mp4"), SPEECH_WORDS),
        Fault("voice_note.opus", "/transcribe", "Ogg/Opus (WhatsApp)",
              encoded(example_speech(48_000), 48_000, "libopus", "ogg"), SPEECH_WORDS),
        Fault("screen_recording.mp4", "/transcribe", "video with a sound track",
              encoded(example_speech(44_100), 44_100, "aac", "mp4", with_video=True), SPEECH_WORDS),
        Fault("really_a_wav.mp3", "/transcribe", "a WAV named .mp3", renamed(wav(speech, 16_000), ".wav"),
              SPEECH_WORDS),
        Fault("really_an_m4a.wav", "/transcribe", "an M4A named .wav",
              renamed(encoded(example_speech(44_100), 44_100, "aac", "mp4"), ".m4a"), SPEECH_WORDS),
        Fault("holiday_photo.wav", "/transcribe", "a PNG named .wav", raw_bytes(PNG_HEADER),
              "no audio stream", refused=True),
    ]


def _tables() -> list[Fault]:
    return [
        Fault("world_population.csv", "/forecast", "integer `year` column beside the values", population_csv(),
              r"2025 \.\.\. 2028, median [89],\d{3},\d{3}"),
        Fault("gdp_quarterly.csv", "/forecast", "quarters written 2010Q1", quarters_csv(), r"2024Q1 \.\.\. 2024Q4"),
        Fault("umsatz_semikolon.csv", "/forecast", "`;` separated, decimal commas, dates 01.02.2015",
              semicolon_decimal_comma_csv, r"2020-01-01 \.\.\. 2020-04-01, median [23]\d\d"),
        Fault("sales_export.tsv", "/forecast", "tab separated", tab_separated, r"2020-01-01 \.\.\. "),
        Fault("sales_export_tabs.csv", "/forecast", "tab separated, named .csv", tab_separated, r"2020-01-01 \.\.\. "),
        Fault("population_utf16.csv", "/forecast", "UTF-16 LE with its byte order mark",
              with_bom(codecs.BOM_UTF16_LE, "utf-16-le"), r"2025 \.\.\. 2028"),
        Fault("population_bom.csv", "/forecast", "UTF-8 with a byte order mark (Excel's 'CSV UTF-8')",
              with_bom(codecs.BOM_UTF8, "utf-8"), r"2025 \.\.\. 2028"),
        Fault("bevölkerung.csv", "/forecast", "Latin-1, `;` separated, an umlaut in the header", latin1_csv,
              r"2025 \.\.\. 2028"),
        Fault("population_thousands.csv", "/forecast", 'quoted numbers with thousands separators ("2,536,431")',
              thousands_csv(","), r"median [89],\d{3},\d{3}"),
        Fault("visits_unsorted.csv", "/forecast", "rows in random order", shuffled_csv, r"2020-01-01 \.\.\. "),
        Fault("visits_duplicates.csv", "/forecast", "two months entered twice", duplicates_csv, "averaged"),
        Fault("sales_gaps.csv", "/forecast", "two months missing", gaps_csv, "added as gaps"),
        Fault("thermostat.csv", "/forecast", "constant target", constant_csv, "same value", refused=True),
        Fault("returns.csv", "/forecast", "the chosen target is empty in every row", all_missing_csv,
              "every row's value is missing", refused=True, options={"target_col": "returns"}),
        Fault("population_2024.csv", "/forecast", "a single data row", one_row_csv, "single data row", refused=True),
        Fault("sensor_log.csv", "/forecast", "a million rows with a `time` counter", sensor_log_csv(),
              r"median [12]\d\.\d.*last 5,000 of 1,000,000 points"),
        Fault("umsatz.xlsx", "/forecast", "Excel workbook, data on the first of two sheets", xlsx_workbook,
              r"2020-01-01 \.\.\. "),
        Fault("umsatz_alt.xls", "/forecast", "Excel 97-2003 workbook", raw_bytes(OLD_XLS), "accepted formats",
              refused=True),
    ]


def corpus() -> list[Fault]:
    """Every fault: images, then recordings, then tables."""
    return [*_images(), *_recordings(), *_tables()]


def left_out() -> dict[str, str]:
    """Odd files the corpus cannot hold on this machine, and why."""
    why = heic_unavailable()
    return {} if why is None else {"IMG_0043.heic (HEIC, iPhone photo)": why}


def write_corpus(folder: Path, faults: list[Fault] | None = None) -> dict[str, Path]:
    """Writes every fault's file into `folder` (created if needed); returns each name's path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fault in corpus() if faults is None else faults:
        path = folder / fault.name
        fault.make(path)
        paths[fault.name] = path
    return paths
