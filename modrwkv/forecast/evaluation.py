"""Judging a forecast: the seasonal-naive baseline, a season guessed from timestamps, and a hold-out back-test.

A forecaster earns trust only beside a baseline: seasonal naive (repeat the last season) is the one that
any model worth serving must beat on the series at hand.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# one season per sampling frequency: a day of hours, a week of days, a year of weeks / months / quarters
_SEASONS: tuple[tuple[tuple[type[pd.offsets.BaseOffset], ...], int], ...] = (
    ((pd.offsets.Hour,), 24),
    ((pd.offsets.Day,), 7),
    ((pd.offsets.Week,), 52),
    ((pd.offsets.MonthBegin, pd.offsets.MonthEnd), 12),
    ((pd.offsets.QuarterBegin, pd.offsets.QuarterEnd), 4),
)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The last `season` points repeated over `horizon` steps (season 1: the last value, i.e. naive)."""
    history = np.asarray(history)
    if horizon < 1 or season < 1:
        raise ValueError(f"horizon and season must be at least 1, got horizon={horizon}, season={season}")
    if len(history) < season:
        raise ValueError(f"seasonal naive needs a full season of history: {len(history)} points < season {season}")
    last = history[len(history) - season :]
    return last[np.arange(horizon) % season]


def infer_frequency(timestamps: pd.DatetimeIndex) -> pd.offsets.BaseOffset | None:
    """The regular spacing of the timestamps, or None when they are irregular, unsorted or too few."""
    try:
        return pd.DatetimeIndex(timestamps, freq="infer").freq
    except (TypeError, ValueError):
        return None


def guess_season(timestamps: pd.DatetimeIndex | None, n: int) -> int:
    """A season length from the sampling frequency (hourly 24, daily 7, weekly 52, monthly 12, quarterly 4,
    else 1), shortened so that two seasons fit in the `n` points."""
    freq = infer_frequency(timestamps) if timestamps is not None else None
    season = 1
    if freq is not None and freq.n == 1:  # a multiple ("2h", "2D") has no conventional season
        season = next((s for kinds, s in _SEASONS if isinstance(freq, kinds)), 1)
    return max(1, min(season, n // 2))


def _metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    error = predicted - actual
    scale = np.abs(actual) + np.abs(predicted)
    # sMAPE in percent; a point where both are 0 is a perfect forecast, not a division by zero
    ratio = np.divide(2 * np.abs(error), scale, out=np.zeros_like(scale, dtype=np.float64), where=scale > 0)
    return {
        "MAE": float(np.mean(np.abs(error))),
        "RMSE": float(np.sqrt(np.mean(error**2))),
        "sMAPE": float(100 * np.mean(ratio)),
    }


def backtest(
    forecaster_fn: Callable[[np.ndarray, int], np.ndarray], series: np.ndarray, horizon: int, season: int
) -> dict[str, dict[str, float]]:
    """Hold out the last `horizon` points, forecast them from the history before, and score the model and
    seasonal naive: {"model": {"MAE", "RMSE", "sMAPE"}, "seasonal_naive": {...}}.

    forecaster_fn(history, horizon) returns a point forecast with the held-out points' shape.
    """
    series = np.asarray(series, dtype=np.float64)
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if len(series) < 2 * horizon:
        raise ValueError(
            f"a back-test over {horizon} points needs at least {2 * horizon} points (as much history as it holds out), "
            f"the series has {len(series)}"
        )
    if not np.isfinite(series).all():
        raise ValueError("the series has missing or infinite values: fill them before back-testing")
    history, actual = series[:-horizon], series[-horizon:]
    predicted = np.asarray(forecaster_fn(history, horizon), dtype=np.float64)
    if predicted.shape != actual.shape:
        raise ValueError(f"the forecaster returned shape {list(predicted.shape)}, expected {list(actual.shape)}")
    return {
        "model": _metrics(actual, predicted),
        "seasonal_naive": _metrics(actual, seasonal_naive(history, horizon, season)),
    }
