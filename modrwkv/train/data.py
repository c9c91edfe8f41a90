"""Training data in the formats people already have, checked record by record.

- LLaVA-style JSON (an array) or JSONL: {"image": "rel/path.jpg", "conversations": [{"from": "human",
  "value": "<image>\\nWhat is this?"}, {"from": "gpt", "value": "A cat."}, ...]}; optional "answers": [...]
  (VQA references, e.g. the ten human answers of VQAv2). Records without "image" are text-only turns.
- An audio manifest, JSONL / JSON array / CSV with the columns `audio` (path) and `text` (transcript).
- Time-series CSVs: a header, then one row per time step; windows of `context` points followed by `horizon`.

A malformed record raises DataError naming the file and where in it: the line (JSONL, CSV) or the record index
and the line it starts on (JSON array).
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modrwkv.encoders.media import MediaError, load_series
from modrwkv.train.config import DataConfig

IMAGE_TAG = "<image>"
_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


class DataError(ValueError):
    """A data file or record that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Conversation:
    image: Path | None
    turns: tuple[tuple[str, str], ...]  # (question, answer), the image tag removed
    image_turn: int  # the turn the image belongs to (its tag's turn, else the first)
    answers: tuple[str, ...]  # VQA references for the first question: "answers", else the first answer
    where: str


@dataclass(frozen=True)
class Transcript:
    audio: Path
    text: str
    where: str


@dataclass(frozen=True)
class Window:
    context: np.ndarray  # [context, channels] float32
    target: np.ndarray  # [horizon, channels] float32
    where: str


def load_records(config: DataConfig) -> list[Conversation] | list[Transcript] | list[Window]:
    """The records of a data (or eval) section, at most `max_records` of them."""
    path = Path(config.path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if config.format == "llava":
        records = list(_capped(load_llava(path, config.image_folder), config.max_records))
    elif config.format == "audio":
        records = list(_capped(load_audio_manifest(path, config.audio_folder), config.max_records))
    else:
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        if not files:
            raise DataError(f"{path}: a folder with no .csv files")
        windows = (w for f in files for w in load_series_windows(f, config.columns, config.context, config.horizon,
                                                                   config.stride))
        records = list(_capped(windows, config.max_records))
    if not records:
        raise DataError(f"{path}: no records")
    return records


def load_llava(path: Path, image_folder: str | Path | None = None) -> Iterator[Conversation]:
    folder = Path(image_folder) if image_folder is not None else path.parent
    for where, raw in read_records(path):
        yield _conversation(raw, folder, where)


def load_audio_manifest(path: Path, audio_folder: str | Path | None = None) -> Iterator[Transcript]:
    folder = Path(audio_folder) if audio_folder is not None else path.parent
    for where, raw in read_records(path, csv_columns=("audio", "text")):
        if not isinstance(raw, dict):
            raise DataError(f"{where}: expected an object with 'audio' and 'text', got {type(raw).__name__}")
        audio = _text_field(raw, "audio", where)
        text = _text_field(raw, "text", where)
        yield Transcript(_existing(folder / audio, "audio", where), text, where)


def load_series_windows(
    path: Path, columns: list[str] | None, context: int, horizon: int, stride: int = 1
) -> Iterator[Window]:
    """Windows over one CSV: `context` points of history, then `horizon` points to forecast; starts `stride` apart.

    Empty cells are filled as the forecast tab fills them (forward, then backward for a leading gap).
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}, line 1: expected a header row with column names")
        rows = [(reader.line_num, row) for row in reader if row]
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    if columns is None:  # every column whose first value is a number
        picked = [i for i, cell in enumerate(rows[0][1]) if i < len(header) and _number(cell) is not None]
        if not picked:
            raise DataError(f"{path}, line {rows[0][0]}: no numeric column; name the series with data.columns")
    else:
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(f"{path}, line 1: no column {missing[0]!r} (columns: {', '.join(header)})")
        picked = [header.index(c) for c in columns]
    table = np.empty((len(rows), len(picked)), dtype=np.float64)
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        for c, i in enumerate(picked):
            value = _number(row[i]) if row[i].strip() else math.nan
            if value is None:
                raise DataError(f"{path}, line {line}: column {header[i]!r}: {row[i]!r} is not a number")
            table[r, c] = value
    try:
        series = load_series(table)
    except MediaError as e:
        raise DataError(f"{path}: {e}") from None
    need = context + horizon
    if len(series) < need:
        raise DataError(f"{path}: {len(series)} rows, fewer than context + horizon = {need}")
    for start in range(0, len(series) - need + 1, stride):
        line = rows[start][0]
        yield Window(series[start:start + context], series[start + context:start + need], f"{path}, line {line}")


def read_records(path: Path, csv_columns: tuple[str, ...] | None = None) -> Iterator[tuple[str, Any]]:
    """(where, record) for each record of a JSON array, JSONL or (given its required columns) CSV file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _jsonl(path)
    elif suffix == ".json":
        yield from _json_array(path)
    elif suffix == ".csv" and csv_columns is not None:
        yield from _csv(path, csv_columns)
    else:
        kinds = ".json, .jsonl" + (", .csv" if csv_columns is not None else "")
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; expected {kinds}")


def _jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON ({e.msg}, column {e.colno})") from None


def _json_array(path: Path) -> Iterator[tuple[str, Any]]:
    """Records of a top-level JSON array, each with its index and the line it starts on."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    pos, line, counted = _skip_space(text, 0), 1, 0

    def line_at(p: int) -> int:  # counted incrementally: the file may hold a million records
        nonlocal line, counted
        line += text.count("\n", counted, p)
        counted = p
        return line

    if text[pos:pos + 1] != "[":
        raise DataError(f"{path}, line {line_at(pos)}: expected a JSON array of records ('[ {{...}}, ... ]')")
    pos = _skip_space(text, pos + 1)
    index = 0
    while pos < len(text) and text[pos] != "]":
        where = f"{path}, record {index} (line {line_at(pos)})"
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: invalid JSON at line {e.lineno} ({e.msg})") from None
        yield where, record
        pos = _skip_space(text, pos)
        if text[pos:pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
            index += 1
        elif text[pos:pos + 1] != "]":
            raise DataError(f"{path}, line {line_at(pos)}: expected ',' or ']' after record {index}")
    if pos >= len(text):
        raise DataError(f"{path}, line {line_at(pos)}: the JSON array is not closed with ']'")


def _csv(path: Path, required: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}, line 1: the header needs the columns {', '.join(required)}; "
                            f"missing {', '.join(missing)}")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if None in row or None in row.values():  # DictReader's markers for extra / missing fields
                raise DataError(f"{where}: the fields do not match the header's {len(reader.fieldnames)} columns")
            yield where, row


def _conversation(raw: Any, folder: Path, where: str) -> Conversation:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object with 'conversations', got {type(raw).__name__}")
    messages = raw.get("conversations")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'conversations' must be a non-empty list of {{'from', 'value'}} messages")
    turns, tag_turns = [], []
    question = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("value"), str):
            raise DataError(f"{where}: conversations[{i}] must be an object with a string 'value'")
        role = _ROLES.get(message.get("from"))
        expected = "user" if question is None else "assistant"
        if role != expected:
            names = "'human'" if expected == "user" else "'gpt'"
            raise DataError(f"{where}: conversations[{i}] is from {message.get('from')!r}; expected {names} "
                            "(turns alternate human, gpt)")
        value = message["value"]
        if role == "user":
            tags = value.count(IMAGE_TAG)
            tag_turns += [len(turns)] * tags
            question = value.replace(IMAGE_TAG, "").strip()
            if not question and not tags:
                raise DataError(f"{where}: conversations[{i}] is an empty question")
            continue
        if IMAGE_TAG in value:
            raise DataError(f"{where}: conversations[{i}] (an answer) holds {IMAGE_TAG}; only questions may")
        if not value.strip():
            raise DataError(f"{where}: conversations[{i}] is an empty answer")
        turns.append((question, value.strip()))
        question = None
    if question is not None:
        raise DataError(f"{where}: the last question has no answer ('gpt' message)")
    image = raw.get("image")
    if image is not None and not (isinstance(image, str) and image):
        raise DataError(f"{where}: 'image' must be a path (one image per record), got {image!r}")
    if len(tag_turns) > 1:
        raise DataError(f"{where}: {len(tag_turns)} {IMAGE_TAG} tags; one image per record is supported")
    if tag_turns and image is None:
        raise DataError(f"{where}: a question has {IMAGE_TAG} but the record has no 'image'")
    if image is not None and any(not q for q, _ in turns):
        raise DataError(f"{where}: a question holds only {IMAGE_TAG}; add the question text")
    answers = raw.get("answers", [turns[0][1]])
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise DataError(f"{where}: 'answers' must be a non-empty list of strings")
    return Conversation(
        _existing(folder / image, "image", where) if image is not None else None,
        tuple(turns), tag_turns[0] if tag_turns else 0, tuple(answers), where,
    )


def _text_field(raw: dict, key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def _existing(path: Path, what: str, where: str) -> Path:
    if not path.is_file():
        raise DataError(f"{where}: {what} file not found: {path}")
    return path.absolute()  # the feature cache's key: the same file whatever the working directory


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _capped(items: Iterator[Any], limit: int | None) -> Iterator[Any]:
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            return
        yield item
