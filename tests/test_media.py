"""Files in the formats people upload: audio (WAV, FLAC, OGG, MP3, M4A) read at any rate and channel count, and
tables (CSV, TSV, .xlsx) read whatever their separator, encoding and way of writing numbers."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from modrwkv.encoders.media import MediaError, audio_duration, load_audio, load_table, resample

RATE = 44_100


def tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def encode(path: Path, codec: str, wave: np.ndarray, rate: int = RATE) -> Path:
    """Write stereo `wave` with FFmpeg's encoder `codec`, as a phone or a browser would (Opus only takes 48 kHz)."""
    if codec == "libopus":
        rate, wave = 48_000, tone(len(wave) / rate, 48_000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=48_000 if codec == "libopus" else rate, layout="stereo")
        frame_len = 1024
        for i in range(0, len(wave), frame_len):
            chunk = wave[i : i + frame_len]
            planar = np.stack([chunk, chunk]).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    "suffix,codec", [(".flac", "flac"), (".ogg", "libopus"), (".mp3", "libmp3lame"), (".m4a", "aac")]
)
def test_each_upload_format_is_read_as_16k_mono(tmp_path: Path, suffix: str, codec: str) -> None:
    path = encode(tmp_path / f"voice{suffix}", codec, tone(2.0))
    wave = load_audio(path)
    # lossy codecs add priming samples at the start: the length is right to within ~50 ms
    assert abs(len(wave) - 32_000) < 800
    assert abs(audio_duration(path) - 2.0) < 0.06
    middle = wave[8_000:24_000]
    assert 0.15 < np.sqrt(np.mean(middle**2)) < 0.25  # the tone's RMS (0.3 / sqrt 2), not silence or noise


def test_a_file_that_is_not_audio_is_refused_with_the_accepted_formats(tmp_path: Path) -> None:
    path = tmp_path / "photo.m4a"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(MediaError, match=r"photo\.m4a.*accepted formats: WAV.*M4A"):
        audio_duration(path)
    with pytest.raises(MediaError, match=r"photo\.m4a.*accepted formats"):
        load_audio(path)


def test_the_refusal_gives_ffmpegs_reason_without_its_errno_or_the_upload_folder(tmp_path: Path) -> None:
    """An upload sits in a temporary folder the user never chose: the message names the file only."""
    path = tmp_path / "notes.wav"
    path.write_text("meeting notes, not a recording\n" * 20)
    for read in (audio_duration, load_audio):
        with pytest.raises(MediaError) as refused:
            read(path)
        message = str(refused.value)
        assert message.startswith("'notes.wav' could not be") and "Invalid data" in message
        assert "Errno" not in message and str(tmp_path) not in message


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resampling_keeps_a_tones_pitch_and_gives_ceil_of_the_scaled_length(rate: int) -> None:
    t = np.arange(int(rate * 0.73)) / rate  # 0.73 s: not a whole number of samples at 16 kHz from every rate
    out = resample(np.sin(2 * np.pi * 440.0 * t).astype(np.float32), rate)
    assert out.shape == (int(np.ceil(t.size * 16_000 / rate)),) and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 16_000 / out.size - 440.0) < 2.0


def test_a_grouped_number_is_read_by_the_files_own_decimal_mark(tmp_path: Path) -> None:
    """"1,230" is a thousand and more beside commas as separators, and 1.23 beside semicolons (where "1.230" is the
    thousand): the separator tells which convention the spreadsheet that wrote the file followed."""
    english = tmp_path / "prices_en.csv"
    english.write_text('item,price\nbike,"1,230"\ncar,"24,500.50"\n', encoding="utf-8")
    assert load_table(english)["price"].tolist() == [1230.0, 24500.5]
    german = tmp_path / "preise_de.csv"
    german.write_text("Artikel;Preis;Gewicht\nRad;1,230;1.230\nAuto;24.500,50;980\n", encoding="utf-8")
    table = load_table(german)
    assert table["Preis"].tolist() == [1.23, 24500.5] and table["Gewicht"].tolist() == [1230, 980]


def test_a_utf16_file_without_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_bytes("day,kWh\n1,12.5\n2,13.0\n".encode("utf-16-le"))
    assert load_table(path).to_dict("list") == {"day": [1, 2], "kWh": [12.5, 13.0]}


def test_a_workbook_saved_under_a_csv_name_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "budget.csv"
    pd.DataFrame({"month": ["Jan", "Feb"], "spent": [310.5, 290.0]}).to_excel(path, index=False, engine="openpyxl")
    assert load_table(path)["spent"].tolist() == [310.5, 290.0]


def test_a_binary_file_named_csv_is_refused_naming_the_file_only(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(MediaError) as refused:
        load_table(path)
    message = str(refused.value)
    assert message.startswith("'data.csv' is not a text file") and "accepted formats: .csv" in message
    assert str(tmp_path) not in message
