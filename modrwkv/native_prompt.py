"""A prompt's element-wise time-mix work in C (`cpu_decode.c`) for CPU inference on fp32 activations: the token
shift's mixes, the recurrence's inputs, and the heads' normed, gated output, one pass each. The matrix products stay
PyTorch's and the recurrence is `kernels.wkv7`'s; the results match the PyTorch operations up to fp32 rounding.

As ~25 PyTorch operations per layer these took ~15% of a 1,024-token prompt of the 0.1B shape on a 2-core CPU.
"""
from __future__ import annotations

import ctypes

import torch
from torch import nn

from kernels.rwkv7 import cpu_prompt

token_shift = cpu_prompt.token_shift


def library(head_size: int, dtype: torch.dtype) -> ctypes.CDLL | None:
    """The native kernels for a CPU model computing in `dtype`, or None where they do not apply or cannot be built."""
    if dtype != torch.float32 or not cpu_prompt.supports(head_size):
        return None
    return cpu_prompt.library()


def usable(lib: ctypes.CDLL | None, x: torch.Tensor) -> ctypes.CDLL | None:
    """`lib` where it can take this input: fp32 on the CPU, no gradients; else None (PyTorch's operations)."""
    if lib is None or not x.is_cpu or x.dtype != torch.float32 or torch.is_grad_enabled():
        return None
    return lib


def attention_inputs(
    lib: ctypes.CDLL, att: nn.Module, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
    v_first: torch.Tensor | None, v_lora: torch.Tensor | None,
) -> tuple[torch.Tensor, ...]:
    """`cpu_prompt.attention_inputs` with a time mix's own vectors (v_first and v_lora None in layer 0)."""
    biases = (att.w0, att.a0, att.v0 if att.layer_id > 0 else None)
    v_first, v_lora = (None, None) if att.layer_id == 0 else (v_first, v_lora)
    return cpu_prompt.attention_inputs(lib, att.n_head, biases, att.k_k, att.k_a, w, k, v, a, v_first, v_lora)


def attention_output(
    lib: ctypes.CDLL, att: nn.Module, y: torch.Tensor, r: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    g: torch.Tensor,
) -> torch.Tensor:
    """`cpu_prompt.attention_output` with a time mix's own group norm and r_k."""
    return cpu_prompt.attention_output(lib, att.ln_x.weight, att.ln_x.bias, att.r_k, y, r, k, v, g)
