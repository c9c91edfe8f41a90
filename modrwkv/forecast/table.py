"""A user's table -> the history to forecast: its time axis, target columns, ordering, duplicates and gaps; and the
forecast written back in the table's own notation of time.

The time axis and the target are judged from the values: dates, months, quarters, plausible years and row counters
are axes; the default target is the first other numeric column whose values change. Every refusal is a `MediaError`
(a `ValueError`) that names the file by the name its user gave it and says what was wrong.
"""
from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modrwkv.encoders.media import TABLE_FORMATS, MediaError, load_series, load_table
from modrwkv.forecast.evaluation import infer_frequency

ACCEPTED = (
    f"Accepted: {TABLE_FORMATS}, with at least one numeric column and optionally a time column "
    "(dates, months like 2020-01, quarters like 2020Q1, or years)."
)
TIMESTAMP_SHARE = 0.9  # a text column is a timestamp column when this share of its filled cells parse as dates
SAMPLE_ROWS = 1_000  # a text column is tried as times on its first cells before all of them (most are not times)
YEARS = (1000, 2200)  # whole numbers in this range can be calendar years
DATE_NUMBERS = (1000_01_01, 2200_12_31)  # whole numbers in this range can be dates written as YYYYMMDD
INCREASING_SHARE = 0.9  # a column of numbers is read as years when this share of its steps go up
# names (lower case, accents dropped: année, año) that say a column holds years
YEAR_NAMES = frozenset({"year", "years", "yr", "jahr", "annee", "ano", "anno"})
# words in a name that say an increasing column counts rows or steps rather than measuring something
COUNTER_WORDS = frozenset(
    {"time", "t", "step", "steps", "timestep", "index", "idx", "id", "row", "seq", "tick", "ts", "timestamp", "epoch"}
)
MAX_GRID_GROWTH = 2  # gaps are filled in only where the regular grid has at most twice the file's timestamps
NUMERIC_DATE = r"^(\d{1,2})([./-])(\d{1,2})\2\d{2,4}\b"  # 01.02.2015, 1/2/15: the order of day and month is unwritten
SIGNIFICANT_DIGITS = 4  # a forecast is written to this many significant digits of its largest value


@dataclass(frozen=True)
class Axis:
    """A time column read: `values` are datetimes (NaT where a cell is no time), or numbers that only order the rows
    (kind "order"); `kind` ("year", "quarter", "month", "instant", "order") says how to label forecast times."""

    values: pd.Series
    kind: str


@dataclass(frozen=True)
class Table:
    """A table read for forecasting: its rows, its time axes (times first, then row counters, each in the file's
    order) and the columns that can be forecast (those whose values change first)."""

    name: str  # the file's name, as its user gave it
    frame: pd.DataFrame
    axes: dict[str, Axis]
    targets: list[str]


@dataclass(frozen=True)
class History:
    """The target in time order, one value per time, ready for the forecaster; with what was done to get there."""

    times: pd.DatetimeIndex | None  # None: the rows are steps
    kind: str
    values: np.ndarray
    filled: int  # missing values filled from the last observation
    averaged: int  # rows merged into another row with the same time
    dropped: int  # rows left out for an unreadable time
    inserted: int  # missing times added (as missing values) to keep the spacing regular


def read(path: str | os.PathLike) -> Table:
    """Read a .csv, .tsv or .xlsx table and find its time axes and the columns that can be forecast.

    Raises MediaError naming the file when it cannot be read, has fewer than two data rows, or has no numeric
    column besides its time axes.
    """
    name = Path(path).name
    try:
        df = load_table(path)
    except MediaError as e:
        raise MediaError(f"{e}.") from e
    check_rows(df, name)
    axes = time_axes(df)
    columns = targets(df, axes)
    if not columns:
        besides = f" besides its time column(s) {', '.join(f'`{c}`' for c in axes)}" if axes else ""
        raise MediaError(
            f"'{name}' has no numeric column to forecast{besides} (columns: {', '.join(map(str, df.columns))}). "
            f"{ACCEPTED}"
        )
    return Table(name, df, axes, columns)


def check_rows(df: pd.DataFrame, name: str) -> None:
    """Refuse a table without a history to forecast from, saying which of the two ways it falls short."""
    if len(df) == 0:
        raise MediaError(f"'{name}' has a header row but no data rows. {ACCEPTED}")
    if len(df) == 1:
        raise MediaError(f"'{name}' has a single data row: a forecast continues a history of many rows. {ACCEPTED}")


def summary(table: Table) -> str:
    """One line (Markdown) on what was read: rows, the columns to forecast, the time axes, and the gaps to fill."""
    df = table.frame
    missing = {c: int(df[c].isna().sum()) for c in table.targets if df[c].isna().any()}
    gaps = ", ".join(f"{n} in `{c}`" for c, n in missing.items())
    message = (
        f"Read **{table.name}**: {len(df):,} rows, numeric columns {', '.join(f'`{c}`' for c in table.targets)}, "
        + (
            f"time column(s) {', '.join(_describe_axis(c, a) for c, a in table.axes.items())}."
            if table.axes
            else "no time column (row numbers are used)."
        )
    )
    if gaps:
        message += f" Missing values will be filled from the last observation: {gaps}."
    return message


def time_axes(df: pd.DataFrame) -> dict[str, Axis]:
    """The columns that are time axes, in the file's order: times (text dates, named years, YYYYMMDD numbers), then
    row counters. An unnamed column of years counts only where nothing else tells the time: a column like
    `visitors` can rise through 1000-2200 beside a date column."""
    numeric = _numeric_columns(df)
    dated: dict[str, Axis] = {}
    for column in df.columns:
        values = df[column]
        if column not in numeric:
            axis = _text_axis(values)
        elif _names_years(column):
            axis = _year_axis(values)
        else:
            axis = _date_number_axis(values) if _mostly_increasing(values) else None
        if axis is not None:
            dated[column] = axis
    if not dated:
        dated = _increasing_years(df, numeric)
    counters = {
        c: Axis(df[c], "order")
        for position, c in enumerate(df.columns)
        if c in numeric and c not in dated and _is_counter(df[c], c, position)
    }
    return dated | counters


def targets(df: pd.DataFrame, axes: Iterable[str]) -> list[str]:
    """The numeric columns that can be forecast: not axes, not empty; those whose values change first."""
    axes = set(axes)
    candidates = [c for c in _numeric_columns(df) if c not in axes and df[c].notna().any()]
    return sorted(candidates, key=lambda c: df[c].nunique() < 2)


def default_time_column(axes: Iterable[str], target_col: str) -> str | None:
    """The time column used when none is named: the first axis that is not the target (a time column named as the
    target leaves the next one), or None for row numbers."""
    return next((c for c in axes if c != target_col), None)


def history(df: pd.DataFrame, name: str, timestamp_col: str | None, target_col: str) -> History:
    """The target in time order (`timestamp_col` None: row order): rows without a readable time left out, rows
    sharing a time averaged, missing timestamps of a regular series added as gaps, then every gap filled from the
    last observation.

    Raises MediaError naming the file `name` when either column is absent, the target is text, empty or constant,
    the time column holds no times or is the target, or no row with a value has a readable time.
    """
    values = _target_values(df, name, target_col)
    axis = _time_axis(df, name, timestamp_col, target_col)
    series, kind, dropped, averaged, inserted = values.reset_index(drop=True), "order", 0, 0, 0
    if axis is not None:
        series, dropped, averaged = _by_time(values, axis)
        kind = axis.kind
    if kind != "order":
        series, inserted = _with_gaps(series)
    times = pd.DatetimeIndex(series.index) if kind != "order" else None
    try:
        array = load_series(series)
    except ValueError as e:  # every row with a value had an unreadable time
        raise MediaError(f"Column '{target_col}' of '{name}' cannot be forecast: {e}.") from e
    return History(times, kind, array, int(series.isna().sum()), averaged, dropped, inserted)


def notes(history: History, target_col: str) -> str:
    """What was done to the rows before forecasting, so that a surprising forecast can be traced to the file."""
    done = []
    if history.dropped:
        done.append(f"{history.dropped} row(s) without a readable time were left out.")
    if history.averaged:
        done.append(f"{history.averaged} row(s) with a duplicate time were averaged into one value per time.")
    if history.inserted:
        done.append(f"{history.inserted} missing time(s) were added as gaps.")
    if history.filled:
        done.append(f"{history.filled} missing value(s) of `{target_col}` were filled from the last observation.")
    return " ".join(done)


def future_times(history: History, horizon: int) -> pd.DatetimeIndex | None:
    """The `horizon` times after the history's last, at its regular spacing; None when it has no times or no
    regular spacing to continue (the forecast then counts steps)."""
    freq = infer_frequency(history.times) if history.times is not None else None
    if freq is None:
        return None
    return pd.date_range(history.times[-1], periods=horizon + 1, freq=freq)[1:]


def labels(times: pd.DatetimeIndex, kind: str) -> list[str]:
    """Forecast times written as the file wrote its own: 2025, 2025Q1, 2025-01, or a date with a clock time only
    where one is needed."""
    if kind == "year":
        return list(times.strftime("%Y"))
    if kind == "quarter":
        return [str(p) for p in times.to_period("Q")]
    if kind == "month":
        return list(times.strftime("%Y-%m"))
    daily = bool((times == times.normalize()).all())  # no clock time to show
    return list(times.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S"))


def forecast_table(future: pd.DatetimeIndex | None, kind: str, quantiles: dict[str, np.ndarray]) -> pd.DataFrame:
    """The forecast as a table: a `timestamp` column labelled as the file wrote its times (`labels`), or a `step`
    column counting from 1 where `future` is None; then one column per quantile (e.g. p10, p50, p90), rounded to
    the significant digits a forecast has."""
    horizon = len(next(iter(quantiles.values())))
    table = pd.DataFrame({"timestamp": labels(future, kind)} if future is not None else {"step": range(1, horizon + 1)})
    return table.assign(**{q: significant(v) for q, v in quantiles.items()})


def significant(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """Rounded to `digits` significant digits of the largest value: a forecast is no more precise than that."""
    scale = float(np.max(np.abs(values))) if len(values) else 0.0
    decimals = max(0, digits - 1 - int(np.floor(np.log10(scale)))) if scale > 0 else digits
    return np.round(values.astype(np.float64), decimals)


# reading a column


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if _is_numeric(df[c])]


def _whole(values: pd.Series) -> bool:
    """Every filled cell is a whole number (years and counters; a workbook stores them as floats)."""
    numbers = values.dropna().to_numpy(dtype=np.float64)
    return bool(np.isfinite(numbers).all() and (numbers == np.round(numbers)).all())


def _mostly_increasing(values: pd.Series) -> bool:
    steps = np.diff(values.dropna().to_numpy(dtype=np.float64))
    return len(steps) > 0 and float((steps > 0).mean()) >= INCREASING_SHARE


def _strictly_increasing(values: pd.Series) -> bool:
    if values.isna().any():
        return False
    steps = np.diff(values.to_numpy(dtype=np.float64))
    return len(steps) > 0 and bool((steps > 0).all())


def _name_words(column: str) -> list[str]:
    """The words of a column name in lower case, accents dropped (année: annee)."""
    plain = unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode().casefold()
    return re.findall(r"[a-z0-9]+", plain)


def _names_years(column: str) -> bool:
    return "".join(_name_words(column)) in YEAR_NAMES


def _names_counter(column: str) -> bool:
    """A word of the name, or the name run together (time_step: timestep), is one that counters are named by."""
    words = _name_words(column)
    return bool((set(words) | {"".join(words)}) & COUNTER_WORDS)


def _unnamed(column: str) -> bool:
    """A column without a header: pandas names it "Unnamed: 0" (a table saved with its index)."""
    return column == "" or re.fullmatch(r"Unnamed: \d+", column) is not None


# time axes


def _year_axis(values: pd.Series) -> Axis | None:
    """Whole numbers from 1000 to 2200 as the first day of those years (never as nanoseconds since 1970)."""
    filled = values.dropna()
    if len(filled) < 2 or not _whole(values) or not filled.between(*YEARS).all():
        return None
    text = values.round().astype("Int64").astype("string")
    return Axis(pd.to_datetime(text, format="%Y", errors="coerce"), "year")


def _date_number_axis(values: pd.Series) -> Axis | None:
    """Whole numbers written as YYYYMMDD (20240131) as those dates."""
    filled = values.dropna()
    if len(filled) < 2 or not _whole(values) or not filled.between(*DATE_NUMBERS).all():
        return None
    times = pd.to_datetime(values.round().astype("Int64").astype("string"), format="%Y%m%d", errors="coerce")
    return Axis(times, "instant") if times.notna().sum() == len(filled) else None


def _quarter_axis(text: pd.Series) -> Axis | None:
    """Quarters written 2020Q1, 2020-Q1, 2020 Q1 or Q1 2020, as the first day of each quarter."""
    year_first = text.str.extract(r"^(\d{4})\s*[-/ ]?\s*[Qq]([1-4])$")
    quarter_first = text.str.extract(r"^[Qq]([1-4])\s*[-/ ]?\s*(\d{4})$")
    year = pd.to_numeric(year_first[0].fillna(quarter_first[1]))
    quarter = pd.to_numeric(year_first[1].fillna(quarter_first[0]))
    if year.notna().sum() < TIMESTAMP_SHARE * text.notna().sum():
        return None
    times = pd.to_datetime(pd.DataFrame({"year": year, "month": 3 * quarter - 2, "day": 1}), errors="coerce")
    return Axis(times, "quarter")


def _parse_dates(text: pd.Series) -> pd.Series:
    """Dates in any notation pandas reads, one per cell (NaT where none); numeric dates such as 01.02.2015 read in
    the one order of day and month the whole column fits (`_reads_day_first`)."""
    times = _to_datetime(text, dayfirst=False)
    fields = text.dropna().str.extract(NUMERIC_DATE)
    if len(fields) and fields[0].notna().all():
        day_first = _to_datetime(text, dayfirst=True)
        if _reads_day_first(fields, times, day_first):
            return day_first
    return times


def _to_datetime(text: pd.Series, dayfirst: bool) -> pd.Series:
    try:
        return pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=dayfirst)
    except ValueError:  # offsets that differ between rows (summer time) have no common zone but UTC
        return pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=dayfirst, utc=True)


def _reads_day_first(fields: pd.DataFrame, month_first: pd.Series, day_first: pd.Series) -> bool:
    """Whether numeric dates put the day first. A first number over 12 says so (a second one says not); where every
    date fits both orders, the order whose times are evenly spaced (01.02.2015 is monthly read day first, but 12 days
    and a jump read month first); else the separator's custom: dots day first (Germany), slashes month first (US)."""
    first, second = fields[0].astype(int), fields[2].astype(int)
    if (first > 12).any() != (second > 12).any():
        return bool((first > 12).any())
    even = [infer_frequency(pd.DatetimeIndex(t.dropna().drop_duplicates().sort_values())) is not None
            for t in (month_first, day_first)]
    if even[0] != even[1]:
        return even[1]
    return bool((fields[1] == ".").all())


def _date_axis(text: pd.Series) -> Axis | None:
    """Dates and times, or months (2020-01) and years (2020) written as text; None when too few cells are dates."""
    filled = text.dropna()
    times = _parse_dates(text)
    if times.notna().sum() < TIMESTAMP_SHARE * len(filled):
        return None
    if filled.str.fullmatch(r"\d{4}[-/.]\d{1,2}").all():
        return Axis(times, "month")
    return Axis(times, "year" if filled.str.fullmatch(r"\d{4}").all() else "instant")


def _cells(values: pd.Series) -> pd.Series:
    """A column's cells as text without surrounding spaces, blanks missing."""
    return values.astype("string").str.strip().replace("", pd.NA)


def _text_axis(values: pd.Series) -> Axis | None:
    """A column that is not numeric read as times: datetimes (a workbook's), quarters, or dates as text. Each
    notation is tried on the first cells before the whole column, since most text columns are not times."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return Axis(values, "instant")
    if pd.api.types.is_bool_dtype(values):
        return None
    sample = _cells(values.dropna().iloc[:SAMPLE_ROWS])
    if sample.notna().sum() < 2:
        return None
    for read_times in (_quarter_axis, _date_axis):
        if read_times(sample) is not None:
            return read_times(_cells(values))
    return None


def _chosen_axis(values: pd.Series) -> Axis | None:
    """The column the user named as the time axis: times where it holds them, else numbers that order the rows."""
    if not _is_numeric(values):
        return _text_axis(values)
    return _year_axis(values) or _date_number_axis(values) or Axis(values, "order")


def _increasing_years(df: pd.DataFrame, numeric: list[str]) -> dict[str, Axis]:
    """The first numeric column of plausible years that (nearly always) goes up, as the time axis."""
    for column in numeric:
        axis = _year_axis(df[column]) if _mostly_increasing(df[column]) else None
        if axis is not None:
            return {column: axis}
    return {}


def _is_counter(values: pd.Series, column: str, position: int) -> bool:
    """A strictly increasing column named like a counter (time, t, step, index, id), or the unnamed first column
    of whole numbers that pandas writes for a table's index: it orders the rows and is not worth forecasting."""
    if not _strictly_increasing(values):
        return False
    return _names_counter(column) or (position == 0 and _unnamed(column) and _whole(values))


def _describe_axis(column: str, axis: Axis) -> str:
    what = {"year": "years", "quarter": "quarters", "month": "months", "instant": "dates", "order": "row counter"}
    return f"`{column}` ({what[axis.kind]})"


# the history


def _target_values(df: pd.DataFrame, name: str, target_col: str) -> pd.Series:
    """The target column, refused with the reason when it cannot be forecast: absent, text, empty or constant."""
    if target_col not in df.columns:
        raise MediaError(f"'{name}' has no column '{target_col}'; its columns: {', '.join(map(str, df.columns))}.")
    values = df[target_col]
    if not _is_numeric(values):
        raise MediaError(
            f"Column '{target_col}' of '{name}' holds text, not numbers: pick a numeric column to forecast."
        )
    if values.isna().all():
        raise MediaError(
            f"Column '{target_col}' of '{name}' is empty: every row's value is missing. Pick a column with numbers."
        )
    if values.nunique() == 1:
        raise MediaError(
            f"Column '{target_col}' of '{name}' has the same value ({values.dropna().iloc[0]:g}) in every row: "
            "there is nothing to forecast. Pick a column whose values change."
        )
    return values


def _time_axis(df: pd.DataFrame, name: str, timestamp_col: str | None, target_col: str) -> Axis | None:
    """The chosen time column read, or None for row numbers; refused when absent, the target itself, or text that
    holds no times."""
    if not timestamp_col:
        return None
    if timestamp_col not in df.columns:
        raise MediaError(
            f"'{name}' has no column '{timestamp_col}' for the time; its columns: {', '.join(map(str, df.columns))}."
        )
    if timestamp_col == target_col:
        raise MediaError(f"Column '{target_col}' of '{name}' cannot be both the time and the target.")
    axis = _chosen_axis(df[timestamp_col])
    if axis is None:
        raise MediaError(
            f"Column '{timestamp_col}' of '{name}' holds neither dates nor numbers, so it cannot order the rows. "
            "Pick a time column, or row numbers."
        )
    return axis


def _by_time(values: pd.Series, axis: Axis) -> tuple[pd.Series, int, int]:
    """One value per time, in time order (a file can list its rows in any order); with the number of rows left out
    for an unreadable time and the number merged into another row with the same time (averaged)."""
    frame = pd.DataFrame({"t": axis.values.to_numpy(), "y": values.to_numpy()}).dropna(subset=["t"])
    series = frame.groupby("t", sort=True)["y"].mean()
    return series, len(values) - len(frame), len(frame) - len(series)


def _grid_frequency(times: pd.DatetimeIndex) -> str | None:
    """The spacing most short stretches of the timestamps share (a few missing ones defeat inferring it from all)."""
    window = 5
    if len(times) < window:
        return None
    starts = np.unique(np.linspace(0, len(times) - window, num=min(20, len(times) - window + 1)).astype(int))
    spacings = (infer_frequency(times[s : s + window]) for s in starts)
    guesses = Counter(freq.freqstr for freq in spacings if freq is not None)
    return guesses.most_common(1)[0][0] if guesses else None


def _with_gaps(series: pd.Series) -> tuple[pd.Series, int]:
    """The series on its regular grid, a missing timestamp becoming a missing value; unchanged when irregular."""
    times = pd.DatetimeIndex(series.index)
    if infer_frequency(times) is not None:
        return series, 0
    freq = _grid_frequency(times)
    if freq is None:
        return series, 0
    grid = pd.date_range(times[0], times[-1], freq=freq)
    if len(grid) > MAX_GRID_GROWTH * len(times) or not times.isin(grid).all():
        return series, 0
    return series.reindex(grid), len(grid) - len(times)
