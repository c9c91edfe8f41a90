"""Time-series forecast tab: a table in (CSV, TSV or .xlsx); a plot with a 10-90% band, a table, a CSV and a back-test
out. Reading the table (its time axis, targets, order, duplicates and gaps) is `modrwkv.forecast.table`'s work."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app import downloads, gpu, models
from app.components import upload_path_only
from app.errors import UserError, user_errors
from app.gpu import on_gpu
from app.model_bar import Selection, model_for
from modrwkv.encoders.media import TABLE_SUFFIXES
from modrwkv.forecast import table as tables
from modrwkv.forecast.evaluation import backtest, guess_season
from modrwkv.pipelines.forecast import Forecaster

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "monthly_sales.csv"
ROW_NUMBER = "(none: use row numbers)"
MAX_HORIZON = 120
MAX_PLOTTED = 5_000  # history points drawn: more add nothing visible and slow the browser down


def _forecaster(selection: Selection | None) -> Forecaster:
    try:
        return Forecaster(model_for(selection, "series"))
    except ValueError as e:  # a series model without a forecast head
        raise UserError(str(e)) from e


def _read(path: str | None, selection: Selection | None) -> tables.Table:
    """The uploaded table read, refused (naming the file) unless it has a history long enough for the model."""
    if not path:
        raise UserError(f"No file: upload a table. {tables.ACCEPTED}")
    try:
        table = tables.read(path)
    except ValueError as e:  # MediaError: the library's message names the file and what was wrong
        raise UserError(str(e)) from e
    needed = _forecaster(selection).min_length + 1  # the model's shortest history plus one held-out point to back-test
    if len(table.frame) < needed:
        raise UserError(f"'{table.name}' has {len(table.frame)} rows; the forecast model needs at least {needed}.")
    return table


def read_csv(path: str | None, selection: Selection | None = None) -> tuple[pd.DataFrame, list[str], list[str], str]:
    """Read an uploaded table (CSV, TSV or .xlsx); return it, its time-axis columns (times first, then row counters),
    the columns that can be forecast (those whose values change first) and a summary line.

    Raises UserError naming the file, saying what was wrong and what is accepted.
    """
    table = _read(path, selection)
    return table.frame, list(table.axes), table.targets, tables.summary(table)


def figure(
    x_history: list, history: np.ndarray, x_future: list, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, target: str
) -> go.Figure:
    fig = go.Figure()
    # the band is one closed polygon (p90 forwards, p10 back), so it is one legend entry
    fig.add_trace(
        go.Scatter(
            x=list(x_future) + list(x_future)[::-1], y=np.concatenate([p90, p10[::-1]]), fill="toself",
            fillcolor="rgba(214,39,40,0.2)", line={"width": 0}, name="10-90% band", hoverinfo="skip",
        )
    )
    fig.add_trace(go.Scatter(x=list(x_history), y=history, mode="lines", name="history", line={"color": "#1f77b4"}))
    fig.add_trace(
        go.Scatter(x=list(x_future), y=p50, mode="lines", name="forecast (median)", line={"color": "#d62728"})
    )
    fig.update_layout(margin={"t": 30}, legend={"orientation": "h"}, yaxis_title=target)
    return fig


@on_gpu(gpu.FORECAST_SECONDS)
def forecast(
    path: str | None,
    target_col: str | None = None,
    horizon: float = 12,
    timestamp_col: str | None = None,
    selection: Selection | None = None,
) -> tuple[go.Figure, pd.DataFrame, str, str]:
    """Forecast a column of a table.

    Args:
        path: path or URL of a .csv, .tsv or .xlsx file with a header row and at least one numeric column.
        target_col: the column to forecast; empty for the first numeric column that is not a time axis.
        horizon: how many steps ahead to forecast (1-120).
        timestamp_col: the time column (dates, months, quarters, years or a row counter); empty for the first one
            detected, or row numbers when there is none.
    Returns:
        A plotly chart of history and forecast with a 10-90% band, the forecast table, the table as a CSV file, and
        the back-test of the model beside a seasonal-naive baseline, with what was done to the rows.
    """
    table = _read(path, selection)
    target_col = target_col or table.targets[0]
    if timestamp_col == ROW_NUMBER:
        timestamp_col = None
    elif not timestamp_col:  # auto: the first time axis that is not the target, else row numbers
        timestamp_col = tables.default_time_column(table.axes, target_col)
    if not 1 <= horizon <= MAX_HORIZON:
        raise UserError(f"Horizon {horizon} is out of range: forecast 1 to {MAX_HORIZON} steps.")
    horizon = int(horizon)
    try:
        history = tables.history(table.frame, table.name, timestamp_col, target_col)
    except ValueError as e:
        raise UserError(str(e)) from e
    series, times = history.values, history.times
    forecaster = _forecaster(selection)
    if len(series) <= forecaster.min_length:  # the back-test needs one point beyond the shortest history
        raise UserError(
            f"Column '{target_col}' of '{table.name}' has {len(series)} usable rows; "
            f"the forecast needs at least {forecaster.min_length + 1}."
        )
    # the back-test holds out the last points, so on a short series it checks fewer steps than are forecast
    steps = min(horizon, len(series) // 2, len(series) - forecaster.min_length)
    season = guess_season(times, len(series) - steps)
    with user_errors("forecasting"):
        fc = forecaster.forecast(series, horizon)
        scores = backtest(lambda h, n: forecaster.forecast(h, n).median[:, 0], series, steps, season)
    p10, p50, p90 = (fc.quantile(q)[:, 0] for q in (0.1, 0.5, 0.9))
    future = tables.future_times(history, horizon)
    result = tables.forecast_table(future, history.kind, {"p10": p10, "p50": p50, "p90": p90})
    csv_path = downloads.new_file(f"forecast_{horizon}.csv")
    result.to_csv(csv_path, index=False)

    shown = slice(max(0, len(series) - MAX_PLOTTED), len(series))
    if future is not None:
        x_history, x_future = list(times[shown]), list(future)
    else:  # no regular spacing to continue: count steps instead
        x_history, x_future = list(range(len(series)))[shown], list(range(len(series), len(series) + horizon))
    m, b = scores["model"], scores["seasonal_naive"]
    metrics = (
        f"Back-test on the last {steps} points: model MAE **{m['MAE']:.3g}**, RMSE {m['RMSE']:.3g}, "
        f"sMAPE {m['sMAPE']:.1f}% · "
        f"seasonal naive (season {season}) MAE **{b['MAE']:.3g}**, RMSE {b['RMSE']:.3g}, sMAPE {b['sMAPE']:.1f}%."
    )
    notes = [tables.notes(history, target_col)]
    if len(series) > MAX_PLOTTED:
        notes.append(f"The chart shows the last {MAX_PLOTTED:,} of {len(series):,} points.")
    metrics = " ".join([metrics, *filter(None, notes)])
    chart = figure(x_history, series[shown], x_future, p10, p50, p90, target_col)
    return chart, result, str(csv_path), metrics


def _on_upload(path: str | None, selection: Selection | None) -> tuple[dict, dict, str]:
    if not path:  # the file was cleared
        return gr.update(choices=[], value=None), gr.update(choices=[], value=None), ""
    _, timestamps, numeric, message = read_csv(path, selection)
    return (
        gr.update(choices=timestamps + [ROW_NUMBER], value=(timestamps or [ROW_NUMBER])[0]),
        gr.update(choices=numeric, value=numeric[0]),
        message,
    )


def _columns(target: str | None, timestamp: str | None) -> tuple[str, str]:
    """The dropdowns' choices for /forecast's text parameters ("" = auto)."""
    return target or "", timestamp or ""


def build(selection: gr.State) -> None:
    """The tab's components and events, inside the caller's Blocks."""
    gr.Markdown(
        f"{models.introduction('series')}\n\nUpload a CSV, TSV or Excel (.xlsx) table with a numeric column (and "
        "optionally a time column: dates, months, quarters or years), or try the example, then press Forecast. "
        "The back-test line compares the model with a seasonal-naive baseline on your own series."
    )
    with gr.Row():
        file = upload_path_only(gr.File(
            label="CSV, TSV or Excel file", file_types=list(TABLE_SUFFIXES), type="filepath", elem_id="forecast-file"
        ))  # file_types still filters the browser's file picker; the library checks the content
        with gr.Column():
            timestamp = gr.Dropdown([], label="Timestamp column", allow_custom_value=True)
            target = gr.Dropdown([], label="Target column", allow_custom_value=True)
            horizon = gr.Slider(1, MAX_HORIZON, value=12, step=1, label="Horizon (steps)")
            go_btn = gr.Button("Forecast", variant="primary")
    status = gr.Markdown(label="Table read")
    gr.Examples([[str(EXAMPLE)]], inputs=[file], label="Try this (synthetic monthly sales)")
    plot = gr.Plot(label="Forecast", elem_id="forecast-plot")
    metrics = gr.Markdown(label="Back-test")
    table = gr.Dataframe(label="Forecast table")
    download = gr.File(label="Download forecast (CSV)")
    # hidden holders give /forecast text parameters (a dropdown's API type lists its choices, none before an
    # upload); API callers name columns without uploading first, and forecast checks them
    target_in = gr.Textbox(visible=False, label="Target column")
    timestamp_in = gr.Textbox(visible=False, label="Timestamp column")
    file.change(_on_upload, [file, selection], [timestamp, target, status], api_visibility="private")
    go_btn.click(_columns, [target, timestamp], [target_in, timestamp_in], api_visibility="private").success(
        forecast, [file, target_in, horizon, timestamp_in, selection], [plot, table, download, metrics],
        api_name="forecast", concurrency_id="model", concurrency_limit=models.model_concurrency(),
    )
