"""The random structural series the bundled forecaster trains on beside the real ones."""
from __future__ import annotations

import numpy as np

from modrwkv.train.recipes.series_synth import PERIODS, TRENDS, draw_many


def autocorrelation(values: np.ndarray, lag: int) -> float:
    v = values - values.mean()
    return float((v[:-lag] * v[lag:]).sum() / (v * v).sum())


def test_the_same_seed_draws_the_same_series_and_another_seed_others():
    first, again, other = draw_many(20, 60, seed=3), draw_many(20, 60, seed=3), draw_many(20, 60, seed=4)
    assert all(np.array_equal(a.values, b.values) for a, b in zip(first, again))
    assert not any(np.allclose(a.values, b.values) for a, b in zip(first, other))


def test_every_period_trend_and_both_compositions_occur_in_finite_series_of_the_asked_length():
    drawn = draw_many(600, 60, seed=0)
    assert all(s.values.shape == (60,) and np.isfinite(s.values).all() for s in drawn)
    assert {s.period for s in drawn} == set(PERIODS)
    assert {s.trend for s in drawn} == set(TRENDS)
    assert {s.multiplicative for s in drawn} == {True, False}


def test_a_seasonal_series_repeats_itself_one_period_later_and_a_plain_one_does_not():
    drawn = [s for s in draw_many(2000, 60, seed=5) if s.trend == "none"]
    for period in (4, 12):
        assert np.mean([autocorrelation(s.values, period) for s in drawn if s.period == period]) > 0.4
    assert abs(np.mean([autocorrelation(s.values, 12) for s in drawn if s.period == 0])) < 0.1
