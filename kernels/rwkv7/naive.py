"""The WKV-7 recurrence as a float64 per-token loop of its defining formula: the reference every kernel beside it
(PyTorch, Triton, C) is tested against. Inputs [B, T, H, N], state [B, H, N, N] (value i, key j), w the decay's
pre-activation; it is written from the formula alone, sharing no code with the kernels.
"""
from __future__ import annotations

import torch


def wkv7_naive(
    r: torch.Tensor, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
    state: torch.Tensor, mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """float64: S = S diag(decay) + (S a) b^T + v k^T, y = S r, token by token; masked tokens keep S."""
    r, w, k, v, a, b, S = (x.double() for x in (r, w, k, v, a, b, state))
    decay = torch.exp(-0.6065306597126334 * torch.sigmoid(w))
    ys = []
    for t in range(r.shape[1]):
        new = (S * decay[:, t, :, None, :] + (S @ a[:, t, :, :, None]) * b[:, t, :, None, :]
               + v[:, t, :, :, None] * k[:, t, :, None, :])
        if mask is not None:
            new = torch.where(mask[:, t, None, None, None], new, S)
        S = new
        ys.append((S @ r[:, t, :, :, None]).squeeze(-1))
    return torch.stack(ys, dim=1), S
