"""Linear layers whose weights are laid out once, at load time, for oneDNN's CPU GEMM.

Measured on a 2-core AMD EPYC (avx2): MKL's fp32 GEMM costs 2-5x more per call at 2-16 rows than at one row
(the head at 8 rows: 40-70 ms vs 12 ms), so batched decode barely gains; oneDNN with prepacked weights runs
8 rows in ~1.5x the time of one, is as fast or faster at one row, and ~20% faster for prefill-sized GEMMs.
"""
from __future__ import annotations

import torch
from torch import nn

BATCH_HINT = 8  # the row count oneDNN blocks the packed layout for; any row count works with it
# Above this many rows (prefill) MKL on the dense weight is faster here: in a whole prefill oneDNN's calls also
# slowed the ops around them (~2.8 s vs 2.0 s for 1k tokens of the 0.1B shape), and unpacking costs <5% of the GEMM.
PACKED_MAX_ROWS = 64


def _pack(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), BATCH_HINT)


def _matmul(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")


def packing_supported(dtype: torch.dtype) -> bool:
    """Whether this torch build packs and multiplies `dtype` weights on this CPU (checked on a small case)."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        w, x = torch.randn(8, 16).to(dtype), torch.randn(2, 16).to(dtype)
        return torch.allclose(_matmul(x, _pack(w)).float(), (x @ w.t()).float(), rtol=1e-2, atol=1e-2)
    except (RuntimeError, AttributeError):
        return False


class PackedLinear(nn.Module):
    """Inference-only, bias-free Linear with a oneDNN-packed weight; `weight` and state_dict() stay dense [out, in]."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.packed = _pack(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() // self.in_features <= PACKED_MAX_ROWS:
            return _matmul(x, self.packed)
        return nn.functional.linear(x, self.packed.to_dense())

    @property
    def weight(self) -> torch.Tensor:
        return self.packed.to_dense()

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"] = self.weight


def pack_linears(model: nn.Module) -> nn.Module:
    """Replace every bias-free nn.Linear of `model` with a PackedLinear, in place (inference only: no autograd)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child.bias is None:
                setattr(parent, name, PackedLinear(child.weight))
    return model
