"""The forecasting head: numbers out of RWKV-7's final state, not parsed text.

There is no official ModRWKV time-series code; this follows the paper's design (a WaveNet-style encoder and
adapter in front of the backbone) and reads the forecast off the last position's hidden state with a linear
head predicting several quantiles per step, trained with the pinball (quantile) loss.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class ForecastHeadConfig:
    in_dim: int  # the backbone's width C
    channels: int  # series channels (1 for univariate)
    horizon: int  # steps predicted per call; longer horizons roll out autoregressively
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    # the history length the model was trained on; longer series are cut to their last `context` points, since
    # a model that only saw windows of this length forecasts worse from longer ones (None: use it all)
    context: int | None = None

    def __post_init__(self) -> None:
        qs = tuple(self.quantiles)
        if not qs or any(not 0 < q < 1 for q in qs) or list(qs) != sorted(set(qs)):
            raise ValueError(f"quantiles must be increasing values in (0, 1), got {qs}")
        if 0.5 not in qs:
            raise ValueError("quantiles must include 0.5: the rollout continues from the median")
        object.__setattr__(self, "quantiles", qs)

    def to_dict(self) -> dict:
        return {**asdict(self), "quantiles": list(self.quantiles)}


class ForecastHead(nn.Module):
    def __init__(self, config: ForecastHeadConfig):
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.in_dim, config.horizon * config.channels * len(config.quantiles))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [B, C] -> quantiles [B, horizon, channels, Q] in normalised units, non-decreasing along Q."""
        c = self.config
        out = self.proj(hidden).view(-1, c.horizon, c.channels, len(c.quantiles))
        return out.sort(dim=-1).values  # quantiles must not cross


def quantile_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: tuple[float, ...]) -> torch.Tensor:
    """Pinball loss averaged over everything: pred [..., Q], target [...]."""
    q = torch.tensor(quantiles, dtype=pred.dtype, device=pred.device)
    err = target.unsqueeze(-1) - pred
    return torch.maximum(q * err, (q - 1) * err).mean()
