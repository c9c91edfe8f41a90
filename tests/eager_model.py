"""Models stepped by PyTorch's operations, as references for the native kernels (the C recurrence stays: it has its
own tests against a float64 loop)."""
from __future__ import annotations

from modrwkv import RWKV7


def pytorch_ops(model: RWKV7) -> RWKV7:
    """`model` without its fused decode step and its native prompt operations, in place."""
    model.fused_decoder = None
    for block in model.blocks:
        block.att.native = block.ffn.native = None
    return model
