"""Tables as users upload them to the forecast tab: years, quarters and counters beside the values, numbers typed with
thousands separators or decimal commas, other separators and encodings, unsorted or duplicated rows, workbooks.

Each test writes the file under the name a user would give it; what the table holds is checked on the library's
reading of it (`modrwkv.forecast.table.read`), forecasts and refusals through the tab's own `forecast`. A refusal
must name that file, never the temporary folder an upload lands in.
"""
from __future__ import annotations

import codecs
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest

from app import forecast_tab
from app.errors import UserError
from modrwkv.bench.fault_corpus import (
    MONTHS,
    OLD_XLS,
    POPULATION,
    SALES,
    YEARS,
    Maker,
    all_missing_csv,
    constant_csv,
    duplicates_csv,
    gaps_csv,
    latin1_csv,
    monthly_frame,
    one_row_csv,
    population_csv,
    quarters_csv,
    raw_bytes,
    semicolon_decimal_comma_csv,
    sensor_log_csv,
    shuffled_csv,
    tab_separated,
    thousands_csv,
    with_bom,
    xlsx_workbook,
)
from modrwkv.forecast import table as tables


def refusal(path: Path, **choices: object) -> str:
    """The tab's message for a file it refuses, checked to name the file and not the upload's folder."""
    with pytest.raises(UserError) as refused:
        forecast_tab.forecast(str(path), **choices)
    message = refused.value.message
    assert f"'{path.name}'" in message and str(path.parent) not in message
    return message


def columns(path: Path) -> tuple[list[str], list[str]]:
    """The time axes and the columns to forecast that the library finds in the file."""
    table = tables.read(path)
    return list(table.axes), table.targets


def written(path: Path, make: Maker) -> Path:
    """`path` once `make` (a fault corpus maker, modrwkv/bench/fault_corpus.py) has written it."""
    make(path)
    return path


# 1. years, quarters and months are the time axis


def test_an_integer_year_column_is_the_time_axis_not_the_target(tmp_path: Path) -> None:
    path = written(tmp_path / "population.csv", population_csv())
    timestamps, targets = columns(path)
    assert timestamps == ["year"] and targets == ["population"]
    _, table, _, _ = forecast_tab.forecast(str(path), horizon=3)
    assert table["timestamp"].tolist() == ["2025", "2026", "2027"]
    assert (table["p50"] > POPULATION[-1] * 0.9).all()  # the population is forecast, not the year


def test_a_year_column_named_as_the_time_column_is_read_as_years_not_nanoseconds(tmp_path: Path) -> None:
    path = written(tmp_path / "population.csv", population_csv(columns=("population", "year")))
    fig, table, _, _ = forecast_tab.forecast(str(path), "population", 2, "year")
    history = next(trace for trace in fig.data if trace.name == "history")
    assert pd.Timestamp(history.x[0]) == pd.Timestamp("1950-01-01")
    assert table["timestamp"].tolist() == ["2025", "2026"]


def test_an_increasing_column_of_years_is_the_time_axis_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "league_wins.csv"
    wins = 41 + np.round(8 * np.sin(np.arange(45) / 3)).astype(int)
    pd.DataFrame({"season": np.arange(1980, 2025), "wins": wins}).to_csv(path, index=False)
    timestamps, targets = columns(path)
    assert timestamps == ["season"] and targets == ["wins"]


@pytest.mark.parametrize("notation", ["{year}Q{quarter}", "{year}-Q{quarter}"])
def test_quarters_are_read_as_periods_and_forecast_as_quarters(tmp_path: Path, notation: str) -> None:
    path = written(tmp_path / "gdp.csv", quarters_csv(notation))
    timestamps, targets = columns(path)
    assert timestamps == ["quarter"] and targets == ["gdp"]
    _, table, _, metrics = forecast_tab.forecast(str(path), horizon=5)
    assert table["timestamp"].tolist() == ["2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1"]
    assert "seasonal naive (season 4)" in metrics


def test_months_written_as_year_dash_month_are_forecast_as_months(tmp_path: Path) -> None:
    path = tmp_path / "shop_sales.csv"
    pd.DataFrame({"month": MONTHS.strftime("%Y-%m"), "sales": SALES}).to_csv(path, index=False)
    timestamps, _ = columns(path)
    assert timestamps == ["month"]
    _, table, _, metrics = forecast_tab.forecast(str(path), horizon=2)
    assert table["timestamp"].tolist() == ["2020-01", "2020-02"]
    assert "seasonal naive (season 12)" in metrics


# 2. counters and index columns order the rows; they are not forecast


def test_a_million_row_file_with_a_time_counter_forecasts_the_values(tmp_path: Path) -> None:
    path = written(tmp_path / "sensor_log.csv", sensor_log_csv())
    assert path.stat().st_size < 20 * 2**20  # the app's upload limit (app.py MAX_FILE_SIZE): this file is allowed
    table = tables.read(path)
    assert list(table.axes) == ["time"] and table.targets == ["temperature"]
    assert "1,000,000 rows" in tables.summary(table)
    fig, table, _, metrics = forecast_tab.forecast(str(path), horizon=12)
    assert list(table.columns) == ["step", "p10", "p50", "p90"]
    assert table["p50"].between(10, 30).all()  # temperatures, not a counter near 1,000,000
    assert "The chart shows the last 5,000 of 1,000,000 points." in metrics
    assert len(next(trace for trace in fig.data if trace.name == "history").y) == forecast_tab.MAX_PLOTTED


def test_the_unnamed_index_column_a_dataframe_writes_is_not_forecast(tmp_path: Path) -> None:
    path = tmp_path / "exported.csv"
    pd.DataFrame({"load_mw": np.round(500 + 40 * np.sin(np.arange(60) / 4), 1)}).to_csv(path)  # index=True
    timestamps, targets = columns(path)
    assert timestamps == ["Unnamed: 0"] and targets == ["load_mw"]


# 3. numbers as spreadsheets type them, and other separators


@pytest.mark.parametrize("thousands", [",", " ", "\u00a0"])
def test_quoted_numbers_with_thousands_separators_are_numbers(tmp_path: Path, thousands: str) -> None:
    path = written(tmp_path / "population.csv", thousands_csv(thousands))
    timestamps, targets = columns(path)
    assert timestamps == ["year"] and targets == ["population"]
    _, table, _, _ = forecast_tab.forecast(str(path), "population", 1, "year")
    assert table["p50"].iloc[0] > 5_000_000  # read as 2,536,431 (thousands), not 2.5 or text


def test_a_semicolon_file_with_decimal_commas_is_read(tmp_path: Path) -> None:
    path = written(tmp_path / "umsatz.csv", semicolon_decimal_comma_csv)
    timestamps, targets = columns(path)
    assert timestamps == ["Monat"] and targets == ["Umsatz"]
    _, table, _, _ = forecast_tab.forecast(str(path), horizon=1)
    assert 200 < table["p50"].iloc[0] < 400  # 3,14 read as 3.14: the series' own level


@pytest.mark.parametrize("cells", ["{m:%d.%m.%Y}", "{m:%d/%m/%Y}", "{m:%-d.%-m.%y}"])
def test_monthly_dates_written_day_first_are_forecast_as_months(tmp_path: Path, cells: str) -> None:
    path = tmp_path / "umsatz.csv"  # 01.02.2015 is the first of February: read month first it would be 2 January
    rows = "".join(f"{cells.format(m=m)};{s}\n" for m, s in zip(MONTHS, SALES))
    path.write_text("Monat;Umsatz\n" + rows, encoding="utf-8")
    _, table, _, metrics = forecast_tab.forecast(str(path), horizon=2)
    assert table["timestamp"].tolist() == ["2020-01-01", "2020-02-01"]
    assert "seasonal naive (season 12)" in metrics


def test_daily_dates_written_day_first_are_read_in_that_order_throughout(tmp_path: Path) -> None:
    path = tmp_path / "besucher.csv"  # 13.01.2015 can only be day first: so is 01.02.2015
    days = pd.date_range("2015-01-01", periods=60, freq="D")
    pd.DataFrame({"Tag": days.strftime("%d.%m.%Y"), "Besucher": SALES}).to_csv(path, sep=";", index=False)
    _, table, _, _ = forecast_tab.forecast(str(path), horizon=1)
    assert table["timestamp"].tolist() == ["2015-03-02"]


@pytest.mark.parametrize("name", ["sales_export.csv", "sales_export.tsv"])
def test_a_tab_separated_file_is_read_whatever_its_suffix(tmp_path: Path, name: str) -> None:
    path = written(tmp_path / name, tab_separated)
    timestamps, targets = columns(path)
    assert timestamps == ["month"] and targets == ["sales"]


# 4. encodings


@pytest.mark.parametrize(
    "bom,encoding", [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_a_file_with_a_byte_order_mark_is_read(tmp_path: Path, bom: bytes, encoding: str) -> None:
    path = written(tmp_path / "population.csv", with_bom(bom, encoding))
    timestamps, targets = columns(path)
    assert timestamps == ["année"] and targets == ["population"]


def test_a_latin1_file_is_read_rather_than_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "bevölkerung.csv", latin1_csv)
    timestamps, targets = columns(path)
    assert timestamps == ["Jahr"] and targets == ["Bevölkerung (Tsd.)"]


# 5. rows out of order, repeated or missing; targets that cannot be forecast


def test_unsorted_rows_are_forecast_as_if_sorted(tmp_path: Path) -> None:
    ordered = tmp_path / "visits.csv"
    monthly_frame("visits").to_csv(ordered, index=False)
    shuffled = written(tmp_path / "visits_shuffled.csv", shuffled_csv)
    _, expected, _, _ = forecast_tab.forecast(str(ordered), horizon=4)
    _, table, _, _ = forecast_tab.forecast(str(shuffled), horizon=4)
    pd.testing.assert_frame_equal(table, expected)


def test_duplicate_timestamps_are_averaged_and_the_info_line_says_so(tmp_path: Path) -> None:
    averaged = tmp_path / "visits.csv"
    monthly_frame("visits").to_csv(averaged, index=False)
    twice = written(tmp_path / "visits_twice.csv", duplicates_csv)  # the last two months: 10 below, then 10 above
    _, expected, _, _ = forecast_tab.forecast(str(averaged), horizon=3)
    _, table, _, metrics = forecast_tab.forecast(str(twice), horizon=3)
    pd.testing.assert_frame_equal(table, expected)
    assert "2 row(s) with a duplicate time were averaged" in metrics


def test_missing_months_become_gaps_filled_from_the_last_observation(tmp_path: Path) -> None:
    path = written(tmp_path / "sales.csv", gaps_csv)  # months 10 and 30 missing
    _, table, _, metrics = forecast_tab.forecast(str(path), horizon=2)
    assert table["timestamp"].tolist() == ["2020-01-01", "2020-02-01"]  # still monthly
    assert "2 missing time(s) were added as gaps" in metrics
    assert "2 missing value(s) of `sales` were filled from the last observation" in metrics


def test_a_constant_target_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "thermostat.csv", constant_csv)
    assert "'setpoint' of 'thermostat.csv' has the same value (21) in every row" in refusal(path)


def test_an_all_missing_target_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "sales.csv", all_missing_csv)
    assert "'returns' of 'sales.csv' is empty: every row's value is missing" in refusal(path, target_col="returns")


def test_a_file_with_a_single_data_row_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "population.csv", one_row_csv)
    assert "'population.csv' has a single data row" in refusal(path)


def test_a_file_with_only_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    path.write_text("year,population\n", encoding="utf-8")
    assert "'population.csv' has a header row but no data rows" in refusal(path)


def test_a_file_of_years_alone_has_nothing_to_forecast(tmp_path: Path) -> None:
    path = tmp_path / "years.csv"
    pd.DataFrame({"year": YEARS}).to_csv(path, index=False)
    assert "'years.csv' has no numeric column to forecast besides its time column(s) `year`" in refusal(path)


# 6. Excel workbooks


def test_an_xlsx_workbook_is_read_from_its_first_sheet(tmp_path: Path) -> None:
    path = written(tmp_path / "umsatz.xlsx", xlsx_workbook)
    timestamps, targets = columns(path)
    assert timestamps == ["Monat"] and targets == ["Umsatz"]
    _, table, _, _ = forecast_tab.forecast(str(path), horizon=1)
    assert table["timestamp"].tolist() == ["2020-01-01"]


def test_the_upload_button_accepts_xlsx() -> None:
    with gr.Blocks() as demo:
        forecast_tab.build(gr.State())
    upload = next(b for b in demo.blocks.values() if isinstance(b, gr.File) and b.elem_id == "forecast-file")
    assert ".xlsx" in upload.file_types


def test_an_old_xls_workbook_is_refused_with_the_accepted_formats(tmp_path: Path) -> None:
    path = written(tmp_path / "umsatz.xls", raw_bytes(OLD_XLS))
    assert "'umsatz.xls' is not a CSV, TSV or .xlsx file; accepted formats: .csv or .tsv" in refusal(path)
