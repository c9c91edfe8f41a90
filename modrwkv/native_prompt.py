"""A prompt's element-wise time-mix work in C (`native_kernels.c`) for CPU inference on fp32 activations: the token
shift's mixes, the recurrence's inputs, and the heads' normed, gated output, one pass each. The matrix products stay
PyTorch's and the recurrence is `kernels.wkv7`'s; the results match the PyTorch operations up to fp32 rounding.

As ~25 PyTorch operations per layer these took ~15% of a 1,024-token prompt of the 0.1B shape on a 2-core CPU.
"""
from __future__ import annotations

import ctypes

import torch
from torch import nn

from modrwkv import native_kernels

def library(head_size: int, dtype: torch.dtype) -> ctypes.CDLL | None:
    """The native kernels for a CPU model computing in `dtype`, or None where they do not apply or cannot be built."""
    if dtype != torch.float32 or head_size % native_kernels.HEAD_LANES:
        return None
    return native_kernels.library()


def usable(lib: ctypes.CDLL | None, x: torch.Tensor) -> ctypes.CDLL | None:
    """`lib` where it can take this input: fp32 on the CPU, no gradients; else None (PyTorch's operations)."""
    if lib is None or not x.is_cpu or x.dtype != torch.float32 or torch.is_grad_enabled():
        return None
    return lib


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _vector(p: torch.Tensor) -> torch.Tensor:
    return p.detach().reshape(-1).contiguous()


def token_shift(lib: ctypes.CDLL, x: torch.Tensor, shift: torch.Tensor, mixes: torch.Tensor) -> torch.Tensor:
    """[n, B, T, C]: x + (x of the token before - x) * mixes[m] for each of the n mixes; x [B, T, C], the token
    before the first is shift [B, C], mixes [n, C] (any shape that views as such)."""
    B, T, C = x.shape
    x, shift = x.contiguous(), shift.to(torch.float32).contiguous()  # a state may be kept in another dtype
    mixes = mixes.detach().reshape(-1, C).contiguous()
    out = torch.empty(len(mixes), B, T, C)
    lib.rwkv7_token_shift(B, T, C, len(mixes), x.data_ptr(), shift.data_ptr(), mixes.data_ptr(), out.data_ptr())
    return out


def attention_inputs(
    lib: ctypes.CDLL, att: nn.Module, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
    v_first: torch.Tensor | None, v_lora: torch.Tensor | None,
) -> tuple[torch.Tensor, ...]:
    """The recurrence's w (pre-activation), k, v, a and b, [B, T, C] each, from a time mix's products: w, a and
    v_lora the LoRAs' outputs before their biases; v_first and v_lora None in layer 0. Overwrites w, k, v and a
    where they are contiguous (the caller's own fresh products)."""
    w, k, v, a = (t.contiguous() for t in (w, k, v, a))
    v_first, v_lora = (None, None) if att.layer_id == 0 else (v_first.contiguous(), v_lora.contiguous())
    b = torch.empty_like(k)
    vectors = [_vector(att.w0), _vector(att.a0), _vector(att.v0) if att.layer_id > 0 else None,
               _vector(att.k_k), _vector(att.k_a)]
    lib.rwkv7_attention_inputs(
        k.numel() // k.shape[-1], att.n_head, att.head_size, *(_ptr(t) for t in vectors),
        w.data_ptr(), k.data_ptr(), v.data_ptr(), _ptr(v_first), a.data_ptr(), _ptr(v_lora), b.data_ptr(),
    )
    return w, k, v, a, b


def attention_output(
    lib: ctypes.CDLL, att: nn.Module, y: torch.Tensor, r: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    g: torch.Tensor,
) -> torch.Tensor:
    """The heads' group-normed WKV output y plus the bonus (r . k r_k) v, times the gate g: [B, T, C], written over y
    where it is contiguous. k and v are the recurrence's inputs."""
    C = att.n_head * att.head_size
    y, r, k, v, g = (t.contiguous() for t in (y, r, k, v, g))
    vectors = [_vector(att.ln_x.weight), _vector(att.ln_x.bias), _vector(att.r_k)]
    lib.rwkv7_attention_output(
        y.numel() // C, att.n_head, att.head_size, *(t.data_ptr() for t in vectors),
        y.data_ptr(), r.data_ptr(), k.data_ptr(), v.data_ptr(), g.data_ptr(),
    )
    return y.view(*y.shape[:-2], C) if y.dim() == 4 else y
