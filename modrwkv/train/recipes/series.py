"""`python -m modrwkv.train.recipes.series`: the bundled offline time-series model, assets/models/series-wavenet/.

A WaveNet encoder, the adapter and a small RWKV-7, all from random weights, with a quantile forecasting head, trained
on this machine's CPU (`modrwkv.train`) on the real series that statsmodels and sktime ship
(`series_data.py`) and on random structural series (`series_synth.py`). The last HORIZON points of every series
are held out: no training window reaches them. Then each held-out horizon is forecast from the history before it
by `Forecaster` (what the app runs) and, on the same windows, by seasonal naive, ETS (statsmodels) and fracast's
bundled model, and scored on the series' own scale
(MAE, MSE) and scale-free (MASE, MAE and MSE relative to seasonal naive); the bf16 bundle, eval.json and the model
card are written. Data and runs go to data/series-wavenet/ (gitignored).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from modrwkv.forecast.evaluation import backtest, guess_season, seasonal_naive
from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.forecast import Forecaster
from modrwkv.train import load_config, train
from modrwkv.train.recipes import series_synth
from modrwkv.train.recipes.run_record import machine, training_summary
from modrwkv.train.recipes.series_data import Series, load_all

DATA_DIR = Path("data/series-wavenet")
BUNDLE_DIR = Path("assets/models/series-wavenet")
COMMAND = "python -m modrwkv.train.recipes.series"
APP_EXAMPLE = Path(__file__).resolve().parents[3] / "assets" / "examples" / "monthly_sales.csv"  # the Forecast tab's
HORIZON = 12  # the head's; a year of months, three years of quarters
CONTEXT = 48  # points of history per training window: the shortest series (nile, 100) still gives 29 windows
BACKBONE = {"n_layer": 2, "n_embd": 64, "head_size": 64}  # emb + head (2 x 65536 x 64) are most of the ~17 MB
ENCODER = {"name": "wavenet", "options": {"dim": 64, "layers": 5}}  # receptive field 32 points
EPOCHS = 10  # chosen on the validation split (see the model card): 25 over-fitted
# random structural series of CONTEXT + HORIZON points (one training window each) beside the real windows; chosen on
# the validation split (--validation): 4,000 beat none on median MASE, relative MAE and band coverage, 16,000 (6
# epochs) lost to none
SYNTHETIC = 4_000
SYNTHETIC_SEED = 1
BATCH = 32
SEED = 0
# modrwkv: the user-facing `Forecaster`, which keeps the last CONTEXT points (the length it was trained on)
METHODS = ("modrwkv", "seasonal_naive", "ets", "fracast")


def write_data(data_dir: Path, series: Sequence[Series], synthetic: int) -> dict[str, Path]:
    """One CSV per series (columns time, value) in three folders: full/ (everything), train/ (all but the last
    HORIZON points: the training windows never reach the held-out ones), heldout/ (the last CONTEXT + HORIZON
    points: one window whose target is the held-out horizon); and `synthetic` random series in train/."""
    folders = {split: data_dir / split for split in ("full", "train", "heldout")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.csv"):  # an earlier run's files (other series, more synthetic ones) would be read
            old.unlink()
    for s in series:
        rows = list(zip(s.times, s.values.tolist()))
        for split, kept in (("full", rows), ("train", rows[:-HORIZON]), ("heldout", rows[-CONTEXT - HORIZON:])):
            _write_csv(folders[split] / f"{s.name}.csv", kept)
    for i, drawn in enumerate(series_synth.draw_many(synthetic, CONTEXT + HORIZON, SYNTHETIC_SEED)):
        _write_csv(folders["train"] / f"synthetic-{i:05d}.csv", list(enumerate(drawn.values.tolist())))
    return folders


def _write_csv(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time", "value"])
        writer.writerows(rows)


def without_held_out(series: Sequence[Series]) -> list[Series]:
    """Every series without its last HORIZON points: the recipe run on these is the validation split (its held-out
    horizon is the HORIZON points before the real one), for choosing settings without looking at the test."""
    return [dataclasses.replace(s, times=s.times[:-HORIZON], values=s.values[:-HORIZON]) for s in series]


def train_config(data_dir: Path, folders: dict[str, Path], epochs: int, max_steps: int | None = None) -> Path:
    """The YAML config that `python -m modrwkv.train` would run, written into `data_dir`.

    One phase, `instruct` from random weights: every part learns at once (encoder, adapter, backbone blocks, head),
    since nothing here is pretrained that an `align` phase could keep frozen."""
    data = {"format": "series", "columns": ["value"], "context": CONTEXT, "horizon": HORIZON}
    config = {
        "phase": "instruct", "output_dir": str(data_dir / "run"),
        "model": {"backbone": BACKBONE, "encoder": ENCODER},
        "data": {**data, "path": str(folders["train"])},
        "eval": {"path": str(folders["heldout"])},
        "train": {"epochs": epochs, "max_steps": max_steps, "batch_size": BATCH, "lr": 2.0e-3, "warmup_steps": 50,
                  "weight_decay": 0.01, "mixed_precision": "no", "train_encoder": True, "seed": SEED},
    }
    path = data_dir / "train.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def forecasts(model: ModRWKV, series: Sequence[Series]) -> dict[str, list[dict[str, np.ndarray]]]:
    """Each method's forecast of each series' held-out horizon from the history before it: "median", and the
    10% / 90% quantiles where the method gives them."""
    forecaster, fracast = Forecaster(model), _fracast()
    band = {key: fracast.quantiles.index(q) for key, q in (("p10", 0.1), ("median", 0.5), ("p90", 0.9))}
    out: dict[str, list[dict[str, np.ndarray]]] = {m: [] for m in METHODS}
    for s in series:
        history = s.values[:-HORIZON]
        out["modrwkv"].append(model_forecast(forecaster, history[-CONTEXT:]))
        out["seasonal_naive"].append({"median": seasonal_naive(history, HORIZON, s.season)})
        out["ets"].append({"median": ets(history, s.season)})
        quantiles = fracast.forecast(history.astype(np.float32), horizon=HORIZON).astype(np.float64)
        out["fracast"].append({key: quantiles[:, i] for key, i in band.items()})
    return out


def model_forecast(forecaster: Forecaster, history: np.ndarray) -> dict[str, np.ndarray]:
    """The median and the 10% / 90% quantiles [HORIZON] of a univariate model's forecast."""
    fc = forecaster.forecast(history, HORIZON)
    return {"median": fc.median[:, 0], "p10": fc.quantile(0.1)[:, 0], "p90": fc.quantile(0.9)[:, 0]}


def ets(history: np.ndarray, season: int) -> np.ndarray:
    """statsmodels' Holt-Winters: additive damped trend, additive season when two seasons fit (else none)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = season > 1 and len(history) >= 2 * season
    with warnings.catch_warnings():  # convergence chatter on short or flat series; the fit is still usable
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(history, trend="add", damped_trend=True, seasonal="add" if seasonal else None,
                                   seasonal_periods=season if seasonal else None,
                                   initialization_method="estimated").fit()
    return np.asarray(fit.forecast(HORIZON))


def _fracast() -> Any:
    from fracast import FracastModel

    return FracastModel.from_pretrained()  # the int8 weights it ships, its default


def scores(series: Series, predicted: dict[str, np.ndarray], naive: np.ndarray) -> dict[str, float]:
    """MAE and MSE in the series' units; scale-free: MASE (MAE over the history's mean absolute seasonal difference)
    and MAE, MSE relative to seasonal naive's on the same window; the 10-90% band's coverage where there is one."""
    history, actual = series.values[:-HORIZON], series.values[-HORIZON:]
    error, naive_error = predicted["median"] - actual, naive - actual
    m = series.season
    out = {
        "mae": float(np.mean(np.abs(error))), "mse": float(np.mean(error**2)),
        "mase": float(np.mean(np.abs(error)) / np.mean(np.abs(history[m:] - history[:-m]))),
        "rel_mae": float(np.mean(np.abs(error)) / np.mean(np.abs(naive_error))),
        "rel_mse": float(np.mean(error**2) / np.mean(naive_error**2)),
    }
    if "p10" in predicted:
        out["coverage_80"] = float(np.mean((predicted["p10"] <= actual) & (actual <= predicted["p90"])))
    return out


def summary(per_series: Sequence[dict[str, float]]) -> dict[str, float]:
    """Over series: mean and median MASE, geometric means of the relative MAE and MSE (the usual average of ratios)."""
    def geo(key: str) -> float:
        return float(np.exp(np.mean(np.log([s[key] for s in per_series]))))

    mase = [s["mase"] for s in per_series]
    out = {"mase_mean": float(np.mean(mase)), "mase_median": float(np.median(mase)), "rel_mae_geomean": geo("rel_mae"),
           "rel_mse_geomean": geo("rel_mse")}
    if all("coverage_80" in s for s in per_series):
        out["coverage_80"] = float(np.mean([s["coverage_80"] for s in per_series]))
    return out


def evaluate_heldout(model: ModRWKV, series: Sequence[Series]) -> dict[str, Any]:
    """Per series and overall scores of every method on the held-out horizons."""
    predicted = forecasts(model, series)
    naive = [p["median"] for p in predicted["seasonal_naive"]]
    table = {m: [scores(s, p, n) for s, p, n in zip(series, predicted[m], naive)] for m in METHODS}
    return {
        "overall": {m: summary(table[m]) for m in METHODS},
        "series": [{"name": s.name, "frequency": s.frequency, "season": s.season, "points": len(s.values),
                    **{m: _rounded(table[m][i]) for m in METHODS}} for i, s in enumerate(series)],
    }


def format_summary(bundle_dir: Path, series: Sequence[Series], dtype: str) -> dict[str, float]:
    """The model's overall scores (last CONTEXT points) with its weights loaded as `dtype` (e.g. "fp16", as the app
    loads it on a CPU without native bf16, or "int8")."""
    forecaster = Forecaster(ModRWKV.from_pretrained(bundle_dir, dtype=dtype))
    rows = []
    for s in series:
        history = s.values[:-HORIZON]
        naive = seasonal_naive(history, HORIZON, s.season)
        rows.append(scores(s, model_forecast(forecaster, history[-CONTEXT:]), naive))
    return summary(rows)


def example_backtest(model: ModRWKV) -> dict[str, dict[str, float]]:
    """The Forecast tab's back-test of the app's example CSV (its last HORIZON months held out, gaps filled from the
    last observation and the season guessed from the dates, as the tab does), beside seasonal naive."""
    import pandas as pd

    table = pd.read_csv(APP_EXAMPLE, parse_dates=["month"])
    sales = table["sales"].ffill().to_numpy()
    season = guess_season(pd.DatetimeIndex(table["month"]), len(sales) - HORIZON)  # as the tab guesses it: 12
    forecaster = Forecaster(model)
    scores = backtest(lambda history, n: forecaster.forecast(history, n).median[:, 0], sales, HORIZON, season)
    return {method: _rounded(values) for method, values in scores.items()}


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.5g}") for k, v in values.items()}


def run(data_dir: Path, bundle_dir: Path, series: Sequence[Series], epochs: int, max_steps: int | None = None,
        synthetic: int = SYNTHETIC) -> dict[str, Any]:
    """The whole recipe on `series` (load_all()'s); returns what it writes to `bundle_dir`/eval.json."""
    started = time.perf_counter()
    # the model is tiny: two threads gain little, and on a shared machine a busy neighbour stalls them at every barrier
    torch.set_num_threads(1)
    folders = write_data(data_dir, series, synthetic)
    train(load_config(train_config(data_dir, folders, epochs, max_steps)))
    trained = time.perf_counter() - started

    ModRWKV.from_pretrained(data_dir / "run").save_pretrained(bundle_dir, dtype=torch.bfloat16)
    model = ModRWKV.from_pretrained(bundle_dir)  # the figures are the bundle's own (bf16 weights, fp32 math)
    results = {
        "model": bundle_dir.name, "command": COMMAND, "horizon": HORIZON, "context": CONTEXT,
        "split": f"the last {HORIZON} points of each series, forecast from the points before them (modrwkv: the last "
                 f"{CONTEXT} of them; the baselines: all of them)",
        **evaluate_heldout(model, series),
        "modrwkv_fp16": format_summary(bundle_dir, series, "fp16"),
        "modrwkv_int8": format_summary(bundle_dir, series, "int8"),
        "app_example": example_backtest(model),
        # every start position over the points before the held-out ones
        "training": {**training_summary(data_dir / "run"),
                     "windows": sum(len(s.values) - 2 * HORIZON - CONTEXT + 1 for s in series),
                     "synthetic_windows": synthetic, "epochs": epochs},
        "seconds": {"data_and_training": round(trained), "total": round(time.perf_counter() - started)},
        "machine": machine(),
    }
    (bundle_dir / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    (bundle_dir / "README.md").write_text(model_card(model, bundle_dir, series, results))
    return results


def model_card(model: ModRWKV, bundle_dir: Path, series: Sequence[Series], results: dict[str, Any]) -> str:
    """The bundle's README.md, its figures taken from `results` (eval.json)."""
    overall, training = results["overall"], results["training"]
    names = {
        "modrwkv": f"**this model**, given the last {CONTEXT} points",
        "seasonal_naive": "seasonal naive",
        "ets": "ETS (statsmodels Holt-Winters, damped additive trend, additive season)",
        "fracast": "fracast 0.1.0 (its bundled int8 model)",
    }
    learned = [p for n, p in model.named_parameters() if not n.startswith(("llm.emb.", "llm.head."))]

    def cell(scores: dict[str, float], key: str) -> str:
        return f"{scores[key]:.3f}" if key in scores else "-"

    overall_rows = "\n".join(
        f"| {names[m]} | " + " | ".join(cell(overall[m], k) for k in ("mase_mean", "mase_median", "rel_mae_geomean",
                                                                         "rel_mse_geomean", "coverage_80")) + " |"
        for m in METHODS)
    shown = ("modrwkv", "seasonal_naive", "ets", "fracast")
    series_rows = "\n".join(
        f"| {r['name']} | {r['season']} | " + " | ".join(f"{r[m]['mae']:.4g} / {r[m]['mse']:.4g}" for m in shown)
        + f" | {r['modrwkv']['mase']:.2f} |" for r in results["series"])
    data_rows = "\n".join(f"| {s.name} | {s.frequency}, {len(s.values)} | {s.package} | {s.origin} |" for s in series)
    size_mb = (bundle_dir / "model.safetensors").stat().st_size / 1e6
    wins = sum(r["modrwkv"]["mae"] < r["seasonal_naive"]["mae"] for r in results["series"])
    return CARD.format(
        bundle=bundle_dir.as_posix(), name=bundle_dir.name, command=COMMAND, size_mb=size_mb, horizon=HORIZON,
        context=CONTEXT, tokens=model.adapters["series"].output_length(CONTEXT), n_layer=BACKBONE["n_layer"],
        n_embd=BACKBONE["n_embd"], head_size=BACKBONE["head_size"],
        enc_dim=ENCODER["options"]["dim"], enc_layers=ENCODER["options"]["layers"],
        receptive=model.encoders["series"].receptive_field, min_length=Forecaster(model).min_length,
        trained_k=sum(p.numel() for p in learned) / 1e3,
        total_m=sum(p.numel() for p in model.parameters()) / 1e6, n_series=len(series),
        synthetic=results["training"]["synthetic_windows"], window=CONTEXT + HORIZON, synthetic_seed=SYNTHETIC_SEED,
        example_model=results["app_example"]["model"]["MAE"],
        example_naive=results["app_example"]["seasonal_naive"]["MAE"],
        windows=results["training"]["windows"], epochs=training["epochs"], batch=BATCH, steps=training["steps"],
        train_min=training["seconds"] / 60, total_min=results["seconds"]["total"] / 60, machine=results["machine"],
        final_loss=training["final_loss"], data_rows=data_rows, overall_rows=overall_rows, series_rows=series_rows,
        wins=wins, mase=overall["modrwkv"]["mase_mean"],
        coverage=100 * overall["modrwkv"]["coverage_80"], int8_mase=results["modrwkv_int8"]["mase_mean"],
        int8_rel=results["modrwkv_int8"]["rel_mae_geomean"], fp16_mase=results["modrwkv_fp16"]["mase_mean"],
        fp16_rel=results["modrwkv_fp16"]["rel_mae_geomean"],
    )


CARD = """# {name}: a small offline ModRWKV time-series forecaster

A ModRWKV that forecasts a univariate series {horizon} steps ahead, with 10%, 50% and 90% quantiles per step, in the
series' own units. It exists so that the app's Forecast tab has a real, trained model with no download. It is
small and was trained on {n_series} real series (and random synthetic ones) only: see "What it cannot do".

- **Encoder**: WaveNet-style (`modrwkv.encoders.wavenet`): each series normalised by its own mean and std, then
  {enc_layers} gated causal dilated convolution blocks of width {enc_dim} (receptive field {receptive} points). No
  pretrained weights exist for it: it was trained here with the rest.
- **Adapter**: the paper's Conv1d compressor (kernel 3, stride 2: {context} points -> {tokens} tokens) and MLP to width
  {n_embd}; the series tokens are the whole input of the language model.
- **Backbone**: RWKV-7, {n_layer} layers, width {n_embd}, head size {head_size}, the 65,536-token World vocabulary
  (unused by forecasting; kept so that the checkpoint is an ordinary ModRWKV), from random weights.
- **Head**: a linear forecasting head on the last hidden state: {horizon} steps x 3 quantiles (pinball loss).
  Longer horizons are rolled out by `Forecaster` from the median.
- **Size**: {total_m:.1f} M parameters, of which the {trained_k:.0f} k outside the embedding and vocabulary head are
  the ones that learned; `model.safetensors` is {size_mb:.1f} MB (bf16). `eval.json` holds every figure below.

## Data

Real series that pip packages ship, read offline (`modrwkv/train/recipes/series_data.py`); the recipe writes them as
CSVs (columns `time`, `value`) under `data/series-wavenet/`. The **last {horizon} points of every series are held
out**: training windows ({context} points of history, then {horizon} to forecast, every start position) come from
the points before them only, {windows:,} windows in all.

| series | frequency, points | package | source and terms |
|---|---|---|---|
{data_rows}

Beside them, {synthetic:,} **random structural series** of {window} points, one training window each
(`modrwkv/train/recipes/series_synth.py`, seed {synthetic_seed}): a trend (none, linear, damped, broken once, or a
random walk), a season of 4, 6, 7, 12 or 24 steps (or none) made of a few harmonics or a free shape, and AR(1)
noise, added or multiplied (the season's swing growing with the level). Pretrained forecasters train on such series
too (Chronos' KernelSynth); 25 real series teach too little of carrying a trend on: the model trained on them alone
forecast the app's own example, a rising monthly sales series, downwards (back-test MAE 59.2 against seasonal naive's
20.6).

## Training

One `modrwkv.train` phase, `instruct` from random weights, in which everything learns at once (encoder, adapter,
backbone blocks, head; `train.train_encoder: true`): there is nothing pretrained that an `align` phase could keep
frozen. {epochs} epochs, batch {batch}, AdamW (lr 2e-3, weight decay 0.01, 50 warm-up steps, cosine), fp32:
{steps:,} steps in {train_min:.1f} min, final pinball loss {final_loss} (normalised units). The whole recipe (data,
training, the evaluation with its baselines) took {total_min:.1f} min on {machine}, shared with
other jobs: one thread trained 5-10x faster than two there, as a busy neighbour stalls two at every barrier.

The epochs, the depth, the single phase and the number of synthetic series were chosen on a validation split (each
series' previous {horizon} points, with the held-out ones removed; `{command} --validation`): 25 epochs
over-fitted, 4 layers were no better, and a second phase on 96-point windows helped whole-history forecasts but
hurt the {context}-point ones. With 4,000 synthetic series (10 epochs) the validation MASE median was 0.735 against
0.828 without, relative MAE 0.497 against 0.517, coverage 77% against 70%, 21 of 25 series better than seasonal
naive against 19; the MASE mean was worse (1.02 against 0.91: realinv went from 1.4 to 3.8, m1 from 0.6 to 3.5); 16,000
synthetic series with 6 epochs lost on every measure but the coverage. fracast's pretrained encoder,
frozen in place of the WaveNet (the rest trained the same way, without the synthetic series), forecast worse there:
MASE mean 1.25 against 0.91.

## Held-out results

Each series' last {horizon} points, forecast by `Forecaster` from the points before them, beside baselines on the
same windows (ETS and fracast see the whole history). Scale-free, averaged over the {n_series} series: MASE (MAE
over the history's mean absolute seasonal difference), MAE and MSE relative to seasonal naive's on the same window
(geometric means; below 1 beats it), and how often the 10-90% band held the actual value (80% nominal).

| method | MASE mean | MASE median | MAE / s-naive | MSE / s-naive | 10-90% coverage |
|---|---|---|---|---|---|
{overall_rows}

Per series, MAE / MSE in the series' own units (season: the seasonal-naive period; 1 repeats the last value):

| series | season | this model | seasonal naive | ETS | fracast | this model's MASE |
|---|---|---|---|---|---|---|
{series_rows}

It beats seasonal naive on {wins} of the {n_series} series. On the app's example (`assets/examples/monthly_sales.csv`,
a rising monthly series), the Forecast tab's back-test of the last {horizon} months gives MAE {example_model:.1f}
against seasonal naive's {example_naive:.1f}. With fp16 weights and fp32 math (how the app loads it on a CPU
without native bf16) its MASE mean is {fp16_mase:.3f} and its MAE / s-naive {fp16_rel:.3f}; with int8 weights
{int8_mase:.3f} and {int8_rel:.3f}.

## What it cannot do

- **Long histories**: it learned from {context}-point windows, so `Forecaster` (and the app) uses only the last
  {context} points of a series (its config's `forecast.context`); fed whole histories during development, it
  forecast much worse (MASE ~5 instead of ~1.35, measured on the model before the synthetic series).
- Univariate only (one channel); no covariates, calendar or holiday effects; needs at least {min_length} points.
- It has seen {n_series} mostly economic and geophysical series (monthly, quarterly, yearly) and random trend +
  season + noise shapes; hourly or daily data with several seasons, intermittent counts, level shifts and anything
  unlike them are outside what it learned.
- Horizons past {horizon} are rolled out from its own median, so errors compound; the 10-90% band is too narrow
  ({coverage:.0f}% coverage where 80% is nominal).
- The held-out set is {n_series} windows of {horizon} points: the figures above carry a sampling error of tens of
  percent, so small differences between methods mean little.

## Reproduce

```bash
{command}    # writes data/series-wavenet/ (CSVs, the run) and {bundle}/, about {total_min:.0f} min on 2 CPU cores
```

Needs `statsmodels==0.15.0` (data, ETS), `sktime==1.2.0` installed with `--no-deps` (only its bundled CSVs are read)
and `fracast==0.1.0` with `--no-deps` (the baseline).

## Use

```python
from modrwkv import ModRWKV
from modrwkv.pipelines.forecast import Forecaster

mm = ModRWKV.from_pretrained("{bundle}")
fc = Forecaster(mm).forecast(values[-{context}:], horizon={horizon})   # values: a 1-D array in any units
fc.median, fc.quantile(0.1), fc.quantile(0.9)
```
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a minute's check of the whole pipeline (a few steps) into DATA/smoke; the bundle is "
                             "left alone")
    parser.add_argument("--validation", action="store_true",
                        help="the recipe on the validation split (see without_held_out) into DATA/validation, to "
                             "compare settings; the bundle is left alone")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--synthetic", type=int, default=SYNTHETIC, help="random structural training series")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke = DATA_DIR / "smoke"
        results = run(smoke, smoke / "bundle", load_all(), 1, max_steps=5, synthetic=64)
    elif args.validation:
        folder = DATA_DIR / f"validation-e{args.epochs}-s{args.synthetic}"
        results = run(folder, folder / "bundle", without_held_out(load_all()), args.epochs, synthetic=args.synthetic)
    else:
        results = run(DATA_DIR, BUNDLE_DIR, load_all(), args.epochs, synthetic=args.synthetic)
    print(json.dumps({k: v for k, v in results.items() if k != "series"}, indent=2))


if __name__ == "__main__":
    main()
