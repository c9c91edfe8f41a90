"""modrwkv.forecast.table on tables in memory: which columns are time axes and which are forecast, how the history is
ordered, merged and gapped, how forecast times are written, and refusals that name the user's file."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modrwkv.encoders.media import MediaError
from modrwkv.forecast import table as tables

MONTHS = pd.date_range("2015-01-01", periods=24, freq="MS")
VALUES = np.round(100 + 10 * np.sin(np.arange(24) / 2), 2)


def kinds(df: pd.DataFrame) -> dict[str, str]:
    return {column: axis.kind for column, axis in tables.time_axes(df).items()}


def test_time_axes_are_recognised_by_their_values_and_names() -> None:
    df = pd.DataFrame({
        "Unnamed: 0": range(24),  # the index pandas writes
        "month": MONTHS.strftime("%Y-%m"),
        "quarter": [f"{d.year}Q{d.quarter}" for d in MONTHS],
        "day": MONTHS.strftime("%Y%m%d").astype(int),
        "step": range(100, 124),
        "visitors": np.arange(1500, 1524),  # rises through plausible years beside real times: a value, not an axis
        "colour": ["red"] * 24,
    })
    assert kinds(df) == {"month": "month", "quarter": "quarter", "day": "instant", "Unnamed: 0": "order",
                         "step": "order"}
    assert tables.targets(df, tables.time_axes(df)) == ["visitors"]
    assert kinds(pd.DataFrame({"année": np.arange(2000, 2024), "y": VALUES})) == {"année": "year"}
    assert kinds(pd.DataFrame({"season": np.arange(2000, 2024), "y": VALUES})) == {"season": "year"}


def test_targets_put_columns_whose_values_change_first_and_leave_out_empty_ones() -> None:
    df = pd.DataFrame({"flat": 1.0, "y": VALUES, "empty": np.nan, "flag": True}, index=range(24))
    assert tables.targets(df, []) == ["y", "flat"]
    assert tables.default_time_column(["month", "year"], "month") == "year"
    assert tables.default_time_column(["month"], "month") is None  # row numbers


def test_history_sorts_averages_duplicates_and_adds_missing_times_as_gaps() -> None:
    frame = pd.DataFrame({"month": MONTHS.strftime("%Y-%m-%d"), "y": VALUES}).drop(index=[5])
    twice = pd.concat([frame, frame.tail(1).assign(y=frame["y"].iloc[-1] + 2), frame.head(1).assign(month="n/a")])
    history = tables.history(twice.sample(frac=1.0, random_state=0), "sales.csv", "month", "y")
    counts = (history.dropped, history.averaged, history.inserted, history.filled)
    assert history.kind == "instant" and counts == (1, 1, 1, 1)
    assert list(history.times) == list(MONTHS)  # in order, the missing month back in its place
    assert history.values[-1] == pytest.approx(VALUES[-1] + 1)  # the two rows of the last month averaged
    assert history.values[5] == history.values[4]  # the missing month filled from the last observation
    assert tables.notes(history, "y") == (
        "1 row(s) without a readable time were left out. 1 row(s) with a duplicate time were averaged into one value "
        "per time. 1 missing time(s) were added as gaps. 1 missing value(s) of `y` were filled from the last "
        "observation."
    )
    by_row = tables.history(frame, "sales.csv", None, "y")
    assert by_row.times is None and by_row.kind == "order" and len(by_row.values) == 23


def test_forecast_times_are_written_as_the_file_wrote_its_own() -> None:
    times = pd.date_range("2025-01-01", periods=2, freq="QS")
    assert tables.labels(times, "year") == ["2025", "2025"]
    assert tables.labels(times, "quarter") == ["2025Q1", "2025Q2"]
    assert tables.labels(times, "month") == ["2025-01", "2025-04"]
    assert tables.labels(times, "instant") == ["2025-01-01", "2025-04-01"]
    assert tables.labels(pd.DatetimeIndex(["2025-01-01 06:30"]), "instant") == ["2025-01-01 06:30:00"]
    history = tables.history(pd.DataFrame({"month": MONTHS, "y": VALUES}), "sales.csv", "month", "y")
    future = tables.future_times(history, 2)
    quantiles = {"p10": np.array([1.23456, 2.0]), "p50": np.array([2.5, 3.0])}
    written = tables.forecast_table(future, "month", quantiles)
    assert written.to_dict("list") == {"timestamp": ["2017-01", "2017-02"], "p10": [1.235, 2.0], "p50": [2.5, 3.0]}
    assert list(tables.forecast_table(None, "order", quantiles).columns) == ["step", "p10", "p50"]
    np.testing.assert_array_equal(tables.significant(np.array([12.3456, 0.012345])), [12.35, 0.01])


@pytest.mark.parametrize(
    "target,timestamp,message",
    [
        ("nope", None, "'sales.csv' has no column 'nope'; its columns: month, y, colour, flat."),
        ("colour", None, "Column 'colour' of 'sales.csv' holds text, not numbers"),
        ("flat", None, "Column 'flat' of 'sales.csv' has the same value (3) in every row"),
        ("y", "when", "'sales.csv' has no column 'when' for the time"),
        ("y", "y", "Column 'y' of 'sales.csv' cannot be both the time and the target."),
        ("y", "colour", "Column 'colour' of 'sales.csv' holds neither dates nor numbers"),
    ],
)
def test_a_column_that_cannot_be_used_is_refused_naming_the_file(target: str, timestamp: str | None, message: str):
    df = pd.DataFrame({"month": MONTHS.strftime("%Y-%m"), "y": VALUES, "colour": "red", "flat": 3.0})
    with pytest.raises(MediaError) as refused:
        tables.history(df, "sales.csv", timestamp, target)
    assert message in str(refused.value)


def test_a_table_without_history_or_values_is_refused_naming_the_file(tmp_path) -> None:
    path = tmp_path / "years.csv"
    pd.DataFrame({"year": np.arange(1990, 2024)}).to_csv(path, index=False)
    with pytest.raises(MediaError, match=r"'years\.csv' has no numeric column to forecast besides .*`year`"):
        tables.read(path)
    path.write_text("year,y\n2024,1\n", encoding="utf-8")
    with pytest.raises(MediaError, match=r"'years\.csv' has a single data row"):
        tables.read(path)
    with pytest.raises(MediaError, match=r"'notes\.txt' is not a CSV, TSV or \.xlsx file.*\.$"):
        tables.read(tmp_path / "notes.txt")
