"""8-bit weight-only quantisation of the large matrices: a quarter of fp32's bytes per decoded token.

Symmetric int8 with one fp32 scale per output channel; activations, LoRAs, norms and the RNN state stay fp32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modrwkv.rwkv7.linear_swap import replace_linears

# Up to this many rows per call the weight-streaming int8 kernel is used; above it the weight is dequantised
# once for a compute-bound GEMM (prefill).
SMALL_M = 16


class Int8Linear(nn.Module):
    """A bias-free Linear whose weight is int8 [out, in] with a per-output-channel scale."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        w = weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.register_buffer("qweight", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        # PyTorch's vectorised x86 int8 kernel (_weight_int8pack_mm) takes bf16 inputs and scales; its result
        # is corrected by scale / bf16(scale) so the per-channel scale stays exact.
        self.register_buffer("scale_bf16", scale.to(torch.bfloat16))
        self.register_buffer("scale_fix", scale / self.scale_bf16.float())
        self.in_features, self.out_features = w.shape[1], w.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] <= SMALL_M and rows.device.type == "cpu":
            y = torch._weight_int8pack_mm(rows.to(torch.bfloat16).contiguous(), self.qweight, self.scale_bf16)
            y = y.float() * self.scale_fix
        else:
            y = F.linear(rows.float(), self.qweight.float()) * self.scale
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)

    def dequantized(self) -> torch.Tensor:
        """The fp32 weight this layer computes with, [out, in]."""
        return self.qweight.float() * self.scale[:, None]


def quantize_linears(model: nn.Module) -> nn.Module:
    """Replace every nn.Linear of `model` with an Int8Linear, in place."""
    def make(name: str, linear: nn.Linear) -> Int8Linear:
        if linear.bias is not None:
            raise ValueError(f"int8 quantisation supports bias-free Linear layers only ('{name}' has a bias)")
        return Int8Linear(linear.weight)

    return replace_linears(model, make)
