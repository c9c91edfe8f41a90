"""Time-series forecasting with ModRWKV: series -> WaveNet encoder -> adapter -> RWKV-7 -> forecasting head.

Numbers come out of the head (quantiles per step), never parsed from text. Horizons longer than the head's
own are rolled out: the median forecast is appended to the history and the model is run again.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from modrwkv.encoders.media import load_series
from modrwkv.multimodal import ModRWKV


@dataclass(frozen=True)
class Forecast:
    quantiles: tuple[float, ...]
    values: np.ndarray  # [horizon, channels, Q] in the series' units

    @property
    def median(self) -> np.ndarray:
        """[horizon, channels]"""
        return self.values[..., self.quantiles.index(0.5)]

    def quantile(self, q: float) -> np.ndarray:
        if q not in self.quantiles:
            raise ValueError(f"quantile {q} was not predicted; available: {self.quantiles}")
        return self.values[..., self.quantiles.index(q)]


class Forecaster:
    def __init__(self, model: ModRWKV):
        if "series" not in model.encoders or model.forecast_head is None:
            raise ValueError("this model has no time-series encoder and forecasting head")
        self.model = model
        self.encoder, self.adapter, self.head = model.encoders["series"], model.adapters["series"], model.forecast_head

    @property
    def min_length(self) -> int:
        """The shortest history the encoder and compressor accept."""
        return max(self.encoder.receptive_field, self.adapter.config.kernel or 1)

    @torch.inference_mode()
    def forecast(self, series: object, horizon: int) -> Forecast:
        """series: [T] or [T, channels] (array, list, pandas Series/DataFrame); NaNs are filled, all-NaN refused.
        Only the last `context` points are used where the model's head names its training context."""
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        history = load_series(series)
        context = self.head.config.context
        if context is not None:
            history = history[-context:]
        if len(history) < self.min_length:
            raise ValueError(
                f"the series has {len(history)} points but this model needs at least {self.min_length} "
                "(its encoder's receptive field)"
            )
        batch = self.encoder.preprocess([history])
        values, mean, std = batch["values"], batch["mean"], batch["std"]
        steps, done = [], 0
        while done < horizon:
            embeds = self.adapter(self.encoder(values=values))
            hidden, _ = self.model.llm.forward_embeds(embeds, hidden=True, last_only=True)
            pred = self.head(hidden[:, 0].float())  # [1, native horizon, channels, Q], normalised
            take = min(pred.shape[1], horizon - done)
            steps.append(pred[:, :take])
            done += take
            median = pred[:, :take, :, self.head.config.quantiles.index(0.5)]
            values = torch.cat((values, median.to(values.dtype)), dim=1)
        out = torch.cat(steps, dim=1) * std.unsqueeze(-1) + mean.unsqueeze(-1)
        return Forecast(self.head.config.quantiles, out[0].numpy())
