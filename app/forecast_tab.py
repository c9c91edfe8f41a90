"""Time-series forecast tab: a CSV in; a plot with a 10-90% band, a table, a CSV and a back-test out."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app import downloads, gpu, models
from app.gpu import on_gpu
from app.model_bar import Selection, model_for
from modrwkv.encoders.media import load_series
from modrwkv.forecast.evaluation import backtest, guess_season, infer_frequency
from modrwkv.pipelines.forecast import Forecaster

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "monthly_sales.csv"
ROW_NUMBER = "(none: use row numbers)"
ACCEPTED = "Accepted: a .csv file with a header row, at least one numeric column and optionally a date/time column."
MAX_HORIZON = 120
TIMESTAMP_SHARE = 0.9  # a text column is a timestamp column when this share of its rows parse as dates


def _forecaster(selection: Selection | None) -> Forecaster:
    try:
        return Forecaster(model_for(selection, "series"))
    except ValueError as e:  # a series model without a forecast head
        raise gr.Error(str(e)) from e


def read_csv(path: str | None, selection: Selection | None = None) -> tuple[pd.DataFrame, list[str], list[str], str]:
    """Read an uploaded CSV; return it, its timestamp columns, its numeric columns and a summary line.

    Raises gr.Error saying what was wrong and what is accepted.
    """
    if not path:
        raise gr.Error(f"No file: upload a CSV. {ACCEPTED}")
    name = Path(path).name
    if Path(path).suffix.lower() != ".csv":
        raise gr.Error(f"'{name}' is not a CSV file. {ACCEPTED}")
    try:
        df = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as e:
        raise gr.Error(f"Could not read '{name}' as CSV ({type(e).__name__}: {str(e).strip()}). {ACCEPTED}") from e
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    numeric = [c for c in numeric if df[c].notna().any()]
    if not numeric:
        raise gr.Error(
            f"'{name}' has no numeric column to forecast (columns: {', '.join(map(str, df.columns))}). {ACCEPTED}"
        )
    timestamps = [
        c
        for c in df.columns
        if c not in numeric
        and pd.to_datetime(df[c], errors="coerce", format="mixed").notna().mean() >= TIMESTAMP_SHARE
    ]
    needed = _forecaster(selection).min_length + 1  # the model's shortest history plus one held-out point to back-test
    if len(df) < needed:
        raise gr.Error(f"'{name}' has {len(df)} rows; the forecast model needs at least {needed}.")
    missing = {c: int(df[c].isna().sum()) for c in numeric if df[c].isna().any()}
    gaps = ", ".join(f"{n} in `{c}`" for c, n in missing.items())
    message = f"Read **{name}**: {len(df)} rows, numeric columns {', '.join(f'`{c}`' for c in numeric)}, " + (
        f"timestamp column(s) {', '.join(f'`{c}`' for c in timestamps)}."
        if timestamps
        else "no timestamp column (row numbers are used)."
    )
    if gaps:
        message += f" Missing values will be filled from the last observation: {gaps}."
    return df, timestamps, numeric, message


def _series(
    df: pd.DataFrame, timestamp_col: str | None, target_col: str
) -> tuple[pd.DatetimeIndex | None, np.ndarray, int]:
    """The target in time order (rows with an unreadable timestamp dropped), with gaps filled; and the number filled."""
    if target_col not in df.columns:
        raise gr.Error(f"Pick a target column from the uploaded file (got '{target_col}').")
    times = None
    if timestamp_col and timestamp_col != ROW_NUMBER:
        if timestamp_col not in df.columns:
            raise gr.Error(f"Pick a timestamp column from the uploaded file (got '{timestamp_col}').")
        parsed = pd.to_datetime(df[timestamp_col], errors="coerce", format="mixed")
        df = df.assign(_t=parsed).dropna(subset=["_t"]).sort_values("_t")
        times = pd.DatetimeIndex(df["_t"])
    values = df[target_col]
    try:
        return times, load_series(values), int(values.isna().sum())
    except ValueError as e:
        raise gr.Error(f"Column '{target_col}' cannot be forecast: {e}") from e


def _significant(values: np.ndarray, digits: int = 4) -> np.ndarray:
    """Rounded to `digits` significant digits of the largest value: a forecast is no more precise than that."""
    scale = float(np.max(np.abs(values))) if len(values) else 0.0
    decimals = max(0, digits - 1 - int(np.floor(np.log10(scale)))) if scale > 0 else digits
    return np.round(values.astype(np.float64), decimals)


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
    """Forecast a column of a CSV file.

    Args:
        path: path or URL of a .csv file with a header row and at least one numeric column.
        target_col: the column to forecast; empty for the first numeric column.
        horizon: how many steps ahead to forecast (1-120).
        timestamp_col: the date/time column; empty for the first one detected, or row numbers when there is none.
    Returns:
        A plotly chart of history and forecast with a 10-90% band, the forecast table, the table as a CSV file, and
        the back-test of the model beside a seasonal-naive baseline.
    """
    df, timestamps, numeric, _ = read_csv(path, selection)
    target_col = target_col or numeric[0]
    timestamp_col = timestamp_col or (timestamps[0] if timestamps else ROW_NUMBER)
    if not 1 <= horizon <= MAX_HORIZON:
        raise gr.Error(f"Horizon {horizon} is out of range: forecast 1 to {MAX_HORIZON} steps.")
    horizon = int(horizon)
    times, series, filled = _series(df, timestamp_col, target_col)
    forecaster = _forecaster(selection)
    if len(series) <= forecaster.min_length:  # the back-test needs one point beyond the shortest history
        raise gr.Error(
            f"Column '{target_col}' has {len(series)} usable rows; "
            f"the forecast needs at least {forecaster.min_length + 1}."
        )
    fc = forecaster.forecast(series, horizon)
    p10, p50, p90 = (fc.quantile(q)[:, 0] for q in (0.1, 0.5, 0.9))

    freq = infer_frequency(times) if times is not None else None
    if freq is not None:
        x_history, x_future = list(times), list(pd.date_range(times[-1], periods=horizon + 1, freq=freq)[1:])
        daily = all(t == t.normalize() for t in x_future)  # no clock time to show
        table = pd.DataFrame(
            {"timestamp": [t.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S") for t in x_future]}
        )
    else:  # no regular spacing to continue: count steps instead
        x_history, x_future = list(range(len(series))), list(range(len(series), len(series) + horizon))
        table = pd.DataFrame({"step": range(1, horizon + 1)})
    table = table.assign(**{name: _significant(v) for name, v in (("p10", p10), ("p50", p50), ("p90", p90))})
    csv_path = downloads.new_file(f"forecast_{horizon}.csv")
    table.to_csv(csv_path, index=False)

    # the back-test holds out the last points, so on a short series it checks fewer steps than are forecast
    steps = min(horizon, len(series) // 2, len(series) - forecaster.min_length)
    season = guess_season(times, len(series) - steps)
    scores = backtest(lambda h, n: forecaster.forecast(h, n).median[:, 0], series, steps, season)
    m, b = scores["model"], scores["seasonal_naive"]
    metrics = (
        f"Back-test on the last {steps} points: model MAE **{m['MAE']:.3g}**, RMSE {m['RMSE']:.3g}, "
        f"sMAPE {m['sMAPE']:.1f}% · "
        f"seasonal naive (season {season}) MAE **{b['MAE']:.3g}**, RMSE {b['RMSE']:.3g}, sMAPE {b['sMAPE']:.1f}%."
    )
    if filled:
        metrics += f" {filled} missing value(s) of `{target_col}` were filled from the last observation."
    return figure(x_history, series, x_future, p10, p50, p90, target_col), table, str(csv_path), metrics


def _on_upload(path: str | None, selection: Selection | None) -> tuple[dict, dict, str]:
    if not path:  # the file was cleared
        return gr.update(choices=[], value=None), gr.update(choices=[], value=None), ""
    _, timestamps, numeric, message = read_csv(path, selection)
    return (
        gr.update(choices=timestamps + [ROW_NUMBER], value=(timestamps or [ROW_NUMBER])[0]),
        gr.update(choices=numeric, value=numeric[0]),
        message,
    )


def build(selection: gr.State) -> None:
    """The tab's components and events, inside the caller's Blocks."""
    gr.Markdown(
        f"{models.introduction('series')}\n\nUpload a CSV with a numeric column (and optionally a date/time column), "
        "or try the example, then press Forecast. The back-test line compares the model with a seasonal-naive "
        "baseline on your own series."
    )
    with gr.Row():
        file = gr.File(label="CSV file", file_types=[".csv"], type="filepath", elem_id="forecast-file")
        with gr.Column():
            # custom values: API callers name columns without uploading first; forecast checks them
            timestamp = gr.Dropdown([], label="Timestamp column", allow_custom_value=True)
            target = gr.Dropdown([], label="Target column", allow_custom_value=True)
            horizon = gr.Slider(1, MAX_HORIZON, value=12, step=1, label="Horizon (steps)")
            go_btn = gr.Button("Forecast", variant="primary")
    status = gr.Markdown()
    gr.Examples([[str(EXAMPLE)]], inputs=[file], label="Try this (synthetic monthly sales)")
    plot = gr.Plot(label="Forecast", elem_id="forecast-plot")
    metrics = gr.Markdown()
    table = gr.Dataframe(label="Forecast table")
    download = gr.File(label="Download forecast (CSV)")
    file.change(_on_upload, [file, selection], [timestamp, target, status], api_visibility="private")
    go_btn.click(
        forecast, [file, target, horizon, timestamp, selection], [plot, table, download, metrics],
        api_name="forecast", concurrency_id="model", concurrency_limit=models.model_concurrency(),
    )
