"""Linear layers whose weights are laid out once, at load time, for a CPU GEMM: oneDNN (fp32, bf16) or fbgemm (fp16).

Why: MKL's fp32 GEMM costs several times more per call at a few rows than at one row, so batched decode barely
gains from it; oneDNN with prepacked weights runs a small batch of rows in little more than the time of one, is at
least as fast at one row, and faster for prefill-sized GEMMs (see docs/performance.md).
"""
from __future__ import annotations

import torch
from torch import nn

from modrwkv.rwkv7.linear_swap import replace_linears

BATCH_HINT = 8  # the row count oneDNN blocks the packed layout for; any row count works with it
# On avx2 CPUs, above this many rows (prefill) MKL on the dense weight is faster: in a whole prefill oneDNN's calls
# also slow the ops around them, and unpacking costs little next to the GEMM. On AVX-512 CPUs the packed weight is
# faster at every row count, unpacking included, so there it takes every product (None: no limit).
PACKED_MAX_ROWS = None if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 64


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
        if PACKED_MAX_ROWS is None or x.numel() // self.in_features <= PACKED_MAX_ROWS:
            return _matmul(x, self.packed)
        return nn.functional.linear(x, self.packed.to_dense())

    @property
    def weight(self) -> torch.Tensor:
        return self.packed.to_dense()

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"] = self.weight


def pack_linears(model: nn.Module) -> nn.Module:
    """Replace every bias-free nn.Linear of `model` with a PackedLinear, in place (inference only: no autograd)."""
    return replace_linears(model, lambda _, linear: PackedLinear(linear.weight) if linear.bias is None else None)


FP16_MAX = 65504.0


def check_fp16_range(weight: torch.Tensor, name: str) -> None:
    """Refuse, by name, a matrix with values fp16 cannot hold (rounding would make them infinite)."""
    if weight.abs().max() > FP16_MAX:
        raise ValueError(f"'{name}' has values beyond fp16's range (+-{FP16_MAX:g}); load it as fp32 or bf16")


class Fp16Linear(nn.Module):
    """Inference-only, bias-free Linear with fp16 weights and fp32 inputs, outputs and accumulation.

    fbgemm widens the packed fp16 weights in registers: half of fp32's bytes per decoded token at fp32 accuracy, so
    one row multiplies faster than an fp32 GEMV, and prompt-sized batches as fast as MKL's fp32 GEMM. CPUs without
    avx2 have no such kernel; there the model computes in fp16 instead.
    `weight` and state_dict() give the dense fp16 [out, in] weight.
    """

    def __init__(self, weight: torch.Tensor, name: str = "weight"):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        w = weight.detach().float().contiguous()
        check_fp16_range(w, name)
        self.packed = torch.ops.quantized.linear_prepack_fp16(w, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic_fp16(x.float(), self.packed)

    @property
    def weight(self) -> torch.Tensor:
        return torch.ops.quantized.linear_unpack_fp16(self.packed)[0].half()

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"] = self.weight


def fp16_linears(model: nn.Module) -> nn.Module:
    """Replace every bias-free nn.Linear of `model` with an Fp16Linear, in place (inference only: no autograd)."""
    return replace_linears(model, lambda name, linear: Fp16Linear(linear.weight, name) if linear.bias is None else None)
