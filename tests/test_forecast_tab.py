"""The Time-series forecast tab: back-test maths, table intake with clear refusals, a full forecast, /forecast's API."""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app import forecast_tab
from app.errors import UserError
from modrwkv.forecast.evaluation import backtest, guess_season, seasonal_naive

EXAMPLE = str(forecast_tab.EXAMPLE)


def test_seasonal_naive_has_no_backtest_error_on_a_perfectly_seasonal_series() -> None:
    series = np.tile([3.0, 5.0, 4.0, 9.0], 6)
    naive = lambda history, horizon: seasonal_naive(history, horizon, 4)  # noqa: E731
    scores = backtest(naive, series, horizon=6, season=4)
    assert scores["model"] == scores["seasonal_naive"] == {"MAE": 0.0, "RMSE": 0.0, "sMAPE": 0.0}
    np.testing.assert_array_equal(seasonal_naive(np.arange(5.0), 3, 1), [4.0, 4.0, 4.0])


def test_backtest_refuses_a_series_shorter_than_twice_the_horizon() -> None:
    with pytest.raises(ValueError, match="needs at least 10 points"):
        backtest(lambda h, n: np.zeros(n), np.arange(9.0), horizon=5, season=1)


def test_season_is_guessed_from_the_timestamps() -> None:
    assert guess_season(pd.date_range("2020-01-01", periods=48, freq="MS"), 48) == 12
    assert guess_season(pd.date_range("2020-01-01", periods=100, freq="h"), 100) == 24
    assert guess_season(pd.date_range("2020-01-01", periods=10, freq="MS"), 10) == 5  # two seasons must fit
    assert guess_season(None, 100) == 1


def test_read_csv_finds_the_timestamp_and_numeric_columns_of_the_example() -> None:
    df, timestamps, targets, message = forecast_tab.read_csv(EXAMPLE)
    assert len(df) == 120
    assert timestamps == ["month"]
    assert targets == ["sales", "advertising"]
    assert "2 in `sales`" in message  # the example's gaps are reported as filled


def test_bad_files_are_refused_with_what_was_wrong(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some prose\n")
    with pytest.raises(UserError, match=r"'notes\.txt' is not a CSV, TSV or \.xlsx file"):
        forecast_tab.read_csv(str(text))
    words = tmp_path / "words.csv"
    words.write_text("name,colour\n" + "".join(f"item{i},red\n" for i in range(30)))
    with pytest.raises(UserError, match="no numeric column"):
        forecast_tab.read_csv(str(words))
    short = tmp_path / "short.csv"
    pd.DataFrame({"t": pd.date_range("2020-01-01", periods=5, freq="D"), "y": range(5)}).to_csv(short, index=False)
    with pytest.raises(UserError, match="has 5 rows; the forecast model needs at least"):
        forecast_tab.read_csv(str(short))


def test_forecast_returns_plot_table_csv_and_backtest() -> None:
    fig, table, csv_path, metrics = forecast_tab.forecast(EXAMPLE, "sales", 18, "month")
    assert {t.name for t in fig.data} == {"history", "forecast (median)", "10-90% band"}
    assert len(table) == 18 and list(table.columns) == ["timestamp", "p10", "p50", "p90"]
    assert table["timestamp"].iloc[0] == "2025-01-01"  # continues the monthly timestamps, without a clock time
    assert (table["p10"] <= table["p50"]).all() and (table["p50"] <= table["p90"]).all()
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), table, check_dtype=False, atol=1e-4)
    assert metrics.count("MAE") == 2 and "seasonal naive (season 12)" in metrics


def test_the_forecast_api_names_every_parameter_and_output_and_takes_columns_as_text() -> None:
    """/forecast as `Client.view_api()` shows it: (path, target_col, horizon, timestamp_col), the columns plain
    strings ("" = auto) rather than a dropdown's empty Literal[], and every output named (no `value_62`)."""
    demo = runpy.run_path(str(Path(__file__).resolve().parents[1] / "app.py"))["build_app"]()
    endpoint = demo.get_api_info()["named_endpoints"]["/forecast"]
    parameters = {p["parameter_name"]: p for p in endpoint["parameters"]}
    assert list(parameters) == ["path", "target_col", "horizon", "timestamp_col"]
    for name in ("target_col", "timestamp_col"):
        assert parameters[name]["python_type"]["type"] == "str" and parameters[name]["type"] == {"type": "string"}
    assert all(p["label"] for p in endpoint["parameters"])
    labels = [r["label"] for r in endpoint["returns"]]
    assert labels == ["Forecast", "Forecast table", "Download forecast (CSV)", "Back-test"]
