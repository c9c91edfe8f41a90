"""Random structural time series (level, trend, season, autocorrelated noise) to train the bundled forecaster on.

The 25 real series that packages ship give ~4,000 overlapping windows: too few for a model to learn what every
forecaster must do (carry a trend on, repeat a season, damp noise), and the model fitted to them forecast a rising
sales series downwards. Pretrained forecasters add synthetic series for this (Chronos' KernelSynth draws Gaussian
processes from random kernel combinations); this draws the components those kernels stand for directly, which is
cheap and lets each series' parts be known. Written here because no installed package generates such series.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERIODS = (0, 4, 6, 7, 12, 12, 12, 24)  # 0: no season; monthly twice as likely as any other
TRENDS = ("none", "linear", "damped", "broken", "random_walk")


@dataclass(frozen=True)
class SyntheticSeries:
    values: np.ndarray  # [length] float64
    period: int  # of its season; 0 for none
    trend: str  # one of TRENDS
    multiplicative: bool  # the season and noise scale with the level


def draw(rng: np.random.Generator, length: int) -> SyntheticSeries:
    """One series: (trend + season + AR(1) noise), on a positive level, added or, for a third, multiplied."""
    t = np.arange(length, dtype=np.float64)
    period = int(rng.choice(PERIODS))
    trend_kind = str(rng.choice(TRENDS))
    trend = _trend(rng, trend_kind, t)
    season = _season(rng, period, length) * _log_uniform(rng, 0.1, 1.5) if period else np.zeros(length)
    noise = _ar1(rng, length, phi=rng.uniform(-0.3, 0.9)) * _log_uniform(rng, 0.03, 0.6)
    shape = trend + season + noise  # unit-free: trends of ~1 over the series, seasons of amplitude ~1
    multiplicative = bool(rng.random() < 1 / 3)
    level = _log_uniform(rng, 5, 5000)
    if multiplicative:  # log-additive: the season's swing grows with the level, as in airline passengers
        values = level * np.exp(0.15 * (shape - shape.mean()))
    else:
        values = level * (1 + 0.1 * (shape - shape.mean()))
    return SyntheticSeries(values, period, trend_kind, multiplicative)


def draw_many(count: int, length: int, seed: int) -> list[SyntheticSeries]:
    """`count` series of `length` points; the same seed gives the same series."""
    rng = np.random.default_rng(seed)
    return [draw(rng, length) for _ in range(count)]


def _trend(rng: np.random.Generator, kind: str, t: np.ndarray) -> np.ndarray:
    n = len(t)
    slope = rng.normal(0, 3) / n  # a few units over the series: a trend can outgrow the season
    if kind == "linear":
        return slope * t
    if kind == "damped":  # Holt's damped trend: the slope fades by `phi` a step
        phi = rng.uniform(0.85, 0.99)
        return slope * (1 - phi ** (t + 1)) / (1 - phi) * n / (n + 10)
    if kind == "broken":  # the slope changes once, somewhere in the middle
        at = int(rng.integers(n // 4, 3 * n // 4))
        return slope * t + rng.normal(0, 3) / n * np.maximum(t - at, 0)
    if kind == "random_walk":
        return np.cumsum(rng.normal(0, 0.25, n))
    return np.zeros(n)


def _season(rng: np.random.Generator, period: int, length: int) -> np.ndarray:
    """A repeating pattern of `period` steps, zero mean, unit amplitude: a few harmonics, or for a quarter of the
    series a free shape (one peak month, a weekly dip ...)."""
    phase = 2 * np.pi * np.arange(period) / period
    if rng.random() < 0.25:
        pattern = rng.normal(0, 1, period)
    else:
        harmonics = rng.integers(1, max(2, period // 2) + 1)
        pattern = sum(rng.normal(0, 1 / k) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
                      for k in range(1, harmonics + 1))
    pattern = pattern - pattern.mean()
    pattern = pattern / max(np.abs(pattern).max(), 1e-9)
    start = int(rng.integers(period))
    return np.resize(np.roll(pattern, -start), length)


def _ar1(rng: np.random.Generator, length: int, phi: float) -> np.ndarray:
    """Stationary AR(1) noise with unit variance."""
    e = rng.normal(0, np.sqrt(1 - phi**2), length)
    out = np.empty(length)
    out[0] = rng.normal()
    for i in range(1, length):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))
