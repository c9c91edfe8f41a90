"""The loss of one batch, as nn.Modules around ModRWKV so that accelerate / DDP can wrap them.

Text: next-token cross-entropy on answer tokens only; the vocabulary head runs only at those positions, so prompt,
modality and padding positions cost no head matmul and receive no gradient from the loss.
Series: the forecasting head on the last hidden state, pinball (quantile) loss against the normalised target.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from modrwkv.backbone import RWKV7
from modrwkv.forecasting import quantile_loss
from modrwkv.multimodal import ModRWKV
from modrwkv.train.samples import IGNORE_INDEX


def answer_loss(llm: RWKV7, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens: hidden [B, T, C] (ln_out's output), targets [B, T] (IGNORE_INDEX
    where there is nothing to learn)."""
    keep = targets != IGNORE_INDEX
    logits = llm.head(hidden[keep])
    return F.cross_entropy(logits.float(), targets[keep])


class TextLoss(nn.Module):
    def __init__(self, model: ModRWKV, modality: str):
        super().__init__()
        self.model, self.modality = model, modality

    def forward(
        self, ids: torch.Tensor, targets: torch.Tensor, slots: torch.Tensor, features: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """features: the encoder features [L, D] of each batch item with a modality input, in batch order."""
        llm = self.model.llm
        x = llm.emb(ids)
        if features:
            adapter = self.model.adapters[self.modality]
            embeds = torch.cat([adapter(f.unsqueeze(0))[0] for f in features])
            x = x.masked_scatter(slots.unsqueeze(-1), embeds.to(x.dtype))  # row-major: batch order, then position
        hidden, _ = llm.forward_embeds(x, hidden=True)
        return answer_loss(llm, hidden, targets)


class ForecastLoss(nn.Module):
    def __init__(self, model: ModRWKV):
        super().__init__()
        self.model = model

    def forward(
        self, target: torch.Tensor, features: torch.Tensor | None = None, values: torch.Tensor | None = None
    ) -> torch.Tensor:
        """target [B, horizon, channels], normalised; features [B, L, D] of the context windows or, when the encoder
        learns, their normalised values [B, T, channels] (encoded here: the encoder is inside the wrapped module)."""
        if values is not None:
            features = self.model.encoders["series"](values=values)
        embeds = self.model.adapters["series"](features)
        hidden, _ = self.model.llm.forward_embeds(embeds, hidden=True, last_only=True)
        head = self.model.forecast_head
        return quantile_loss(head(hidden[:, 0].float()), target.float(), head.config.quantiles)
