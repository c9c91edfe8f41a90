"""Forecasting through the head: quantiles in the series' units, any horizon, clear refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from modrwkv import RWKV7, encoders
from modrwkv.encoders.media import MediaError
from modrwkv.forecast.head import ForecastHeadConfig, quantile_loss
from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.forecast import Forecaster
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict

SERIES = (10 + 3 * np.sin(np.arange(120) * 2 * np.pi / 12)).astype(np.float32)  # monthly-like seasonality


@pytest.fixture(scope="module")
def model() -> ModRWKV:
    torch.manual_seed(3)
    llm = RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(n_layer=2, n_embd=64, head_size=32), seed=4))
    return ModRWKV.build(llm, [encoders.build("wavenet")], forecast_horizon=6)


def test_a_forecast_has_the_horizon_and_ordered_quantiles(model):
    fc = Forecaster(model).forecast(SERIES, horizon=6)
    assert fc.values.shape == (6, 1, 3)
    assert (np.diff(fc.values, axis=-1) >= 0).all()
    assert fc.median.shape == (6, 1)


def test_horizons_beyond_the_head_roll_out_from_the_median(model):
    short = Forecaster(model).forecast(SERIES, horizon=6)
    long = Forecaster(model).forecast(SERIES, horizon=15)
    assert long.values.shape == (15, 1, 3)
    np.testing.assert_allclose(long.values[:6], short.values, rtol=1e-5, atol=1e-5)


def test_forecasts_are_in_the_units_of_the_series(model):
    fc = Forecaster(model).forecast(SERIES, horizon=6)
    scaled = Forecaster(model).forecast(SERIES * 1000 + 5, horizon=6)
    np.testing.assert_allclose(scaled.values, fc.values * 1000 + 5, rtol=1e-4, atol=1e-2)


def test_missing_values_are_filled_and_an_all_nan_series_is_refused(model):
    gappy = SERIES.copy()
    gappy[[5, 40, 41]] = np.nan
    assert np.isfinite(Forecaster(model).forecast(gappy, horizon=3).values).all()
    with pytest.raises(MediaError):
        Forecaster(model).forecast(np.full(100, np.nan), horizon=3)


def test_a_series_shorter_than_the_receptive_field_is_refused(model):
    f = Forecaster(model)
    with pytest.raises(ValueError, match=f"needs at least {f.min_length}"):
        f.forecast(SERIES[: f.min_length - 1], horizon=3)


def test_the_forecasting_head_survives_save_and_load(tmp_path, model):
    loaded = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "ts"))
    np.testing.assert_array_equal(
        Forecaster(loaded).forecast(SERIES, 6).values, Forecaster(model).forecast(SERIES, 6).values
    )


def test_the_quantile_loss_is_the_pinball_loss():
    pred = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    # q=0.1: under by 1.5 -> 0.15; q=0.5: under by 0.5 -> 0.25; q=0.9: over by 0.5 -> 0.05
    assert quantile_loss(pred, target, (0.1, 0.5, 0.9)).item() == pytest.approx((0.15 + 0.25 + 0.05) / 3)


def test_quantiles_must_include_the_median():
    with pytest.raises(ValueError, match="0.5"):
        ForecastHeadConfig(in_dim=8, channels=1, horizon=4, quantiles=(0.1, 0.9))


def test_a_multivariate_series_gets_a_forecast_per_channel(model):
    two = ModRWKV.build(model.llm, [encoders.build("wavenet", in_channels=2)], forecast_horizon=4)
    series = np.stack([SERIES, SERIES[::-1]], axis=1)
    assert Forecaster(two).forecast(series, horizon=5).values.shape == (5, 2, 3)


def test_a_model_trained_on_short_windows_forecasts_from_that_many_points(model):
    windowed = ModRWKV.build(model.llm, [model.encoders["series"]], forecast_horizon=6, forecast_context=40)
    windowed.adapters["series"].load_state_dict(model.adapters["series"].state_dict())
    windowed.forecast_head.load_state_dict(model.forecast_head.state_dict())
    long = 50 + 10 * np.sin(np.arange(300) / 5.0)
    cut = Forecaster(windowed).forecast(long, 6).values
    np.testing.assert_array_equal(cut, Forecaster(model).forecast(long[-40:], 6).values)
