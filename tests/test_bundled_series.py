"""The bundled time-series model (assets/models/series-wavenet/): it loads, and forecasts the held-out windows as well
as its model card says."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from modrwkv.forecast.evaluation import seasonal_naive
from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.forecast import Forecaster

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "models" / "series-wavenet"
# the card's figures are this bundle's on the same windows; what is left is thread-count rounding in fp32 math
MARGIN = 0.02


@pytest.fixture(scope="module")
def series() -> list:
    pytest.importorskip("statsmodels")
    if importlib.util.find_spec("sktime") is None:
        pytest.skip("sktime (installed with --no-deps for its bundled CSVs) is needed for the held-out series")
    from modrwkv.train.recipes.series_data import load_all

    return load_all()


def test_bundled_series_model_forecasts_the_held_out_windows_as_its_card_says(series: list) -> None:
    from modrwkv.train.recipes.series import CONTEXT, HORIZON, model_forecast, scores, summary

    card = json.loads((BUNDLE / "eval.json").read_text())
    model = ModRWKV.from_pretrained(BUNDLE)
    assert "series" in model.encoders and model.forecast_head.config.horizon == HORIZON == card["horizon"]
    forecaster = Forecaster(model)
    rows = []
    for s in series:
        history = s.values[:-HORIZON]
        predicted = model_forecast(forecaster, history[-CONTEXT:])
        assert (predicted["p10"] <= predicted["median"]).all() and (predicted["median"] <= predicted["p90"]).all()
        rows.append(scores(s, predicted, seasonal_naive(history, HORIZON, s.season)))
    overall, claimed = summary(rows), card["overall"]["modrwkv"]
    assert [r["name"] for r in card["series"]] == [s.name for s in series]
    for key in ("mase_mean", "rel_mae_geomean"):
        assert overall[key] == pytest.approx(claimed[key], rel=MARGIN), key
    assert overall["rel_mae_geomean"] < 1  # the card's claim: it beats seasonal naive on average


@pytest.mark.parametrize("dtype", ["fp16", "int8"])
def test_bundled_series_model_in_the_cpu_formats_forecasts_as_its_card_says(series: list, dtype: str) -> None:
    """fp16 (the app's format on a CPU without native bf16) and int8, each against its own line of the card."""
    from modrwkv.rwkv7.loading import fp16_weights_supported
    from modrwkv.train.recipes.series import format_summary

    if dtype == "fp16" and not fp16_weights_supported():
        pytest.skip("fp16 weights with fp32 math need fbgemm (an x86 CPU with avx2)")
    claimed = json.loads((BUNDLE / "eval.json").read_text())[f"modrwkv_{dtype}"]
    overall = format_summary(BUNDLE, series, dtype)
    for key in ("mase_mean", "rel_mae_geomean"):
        assert overall[key] == pytest.approx(claimed[key], rel=MARGIN), key


def test_bundled_series_model_is_small_and_rolls_out_past_its_horizon() -> None:
    assert (BUNDLE / "model.safetensors").stat().st_size < 20e6
    model = ModRWKV.from_pretrained(BUNDLE)
    months = np.arange(60.0)
    history = 100 + 10 * np.sin(2 * np.pi * months / 12) + 0.5 * months
    with torch.inference_mode():
        fc = Forecaster(model).forecast(history, 30)  # two and a half head horizons
    assert fc.values.shape == (30, 1, 3) and np.isfinite(fc.values).all()


def test_bundled_series_model_beats_seasonal_naive_on_the_apps_example_as_its_card_says() -> None:
    from modrwkv.train.recipes.series import example_backtest

    claimed = json.loads((BUNDLE / "eval.json").read_text())["app_example"]
    scores = example_backtest(ModRWKV.from_pretrained(BUNDLE))
    assert scores["model"]["MAE"] == pytest.approx(claimed["model"]["MAE"], rel=MARGIN)
    assert scores["model"]["MAE"] < scores["seasonal_naive"]["MAE"]
