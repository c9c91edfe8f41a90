"""A prompt's element-wise RWKV-7 time-mix work in C (`cpu_prompt.c`) on fp32 activations: the token shift's mixes,
the recurrence's inputs, and the heads' normed, gated output, one pass each. The results match PyTorch's operations
up to fp32 rounding; built on first use for this CPU (`build`), None where it cannot be.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from kernels.rwkv7 import build

SOURCE = Path(__file__).with_name("cpu_prompt.c")
HEAD_LANES = 8  # the per-head code (heads.h) works on eight channels at a time: head sizes must be a multiple of it
PROTOTYPES = (
    ("rwkv7_token_shift", (ctypes.c_int,) * 4 + (ctypes.c_void_p,) * 4, None),
    ("rwkv7_attention_inputs", (ctypes.c_int,) * 3 + (ctypes.c_void_p,) * 12, None),
    ("rwkv7_attention_output", (ctypes.c_int,) * 3 + (ctypes.c_void_p,) * 8, None),
)


def library() -> ctypes.CDLL | None:
    """The prompt ops for this CPU, or None where they cannot be built or are turned off (see `build`)."""
    return build.load(SOURCE, PROTOTYPES)


def supports(head_size: int) -> bool:
    return head_size % HEAD_LANES == 0


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _vector(p: torch.Tensor | None) -> torch.Tensor | None:
    return None if p is None else p.detach().reshape(-1).contiguous()


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
    lib: ctypes.CDLL, n_head: int, biases: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    k_k: torch.Tensor, k_a: torch.Tensor, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
    v_first: torch.Tensor | None, v_lora: torch.Tensor | None,
) -> tuple[torch.Tensor, ...]:
    """The recurrence's w (pre-activation), k, v, a and b, [B, T, C] each, from a time mix's products: w, a and
    v_lora the LoRAs' outputs before their biases (w0, a0, v0); v0, v_first and v_lora None in layer 0. Overwrites
    w, k, v and a where they are contiguous (the caller's own fresh products)."""
    w, k, v, a = (t.contiguous() for t in (w, k, v, a))
    v_first, v_lora = (None, None) if v_lora is None else (v_first.contiguous(), v_lora.contiguous())
    b = torch.empty_like(k)
    C = k.shape[-1]
    vectors = [*(_vector(t) for t in biases), _vector(k_k), _vector(k_a)]
    lib.rwkv7_attention_inputs(
        k.numel() // C, n_head, C // n_head, *(_ptr(t) for t in vectors),
        w.data_ptr(), k.data_ptr(), v.data_ptr(), _ptr(v_first), a.data_ptr(), _ptr(v_lora), b.data_ptr(),
    )
    return w, k, v, a, b


def attention_output(
    lib: ctypes.CDLL, ln_weight: torch.Tensor, ln_bias: torch.Tensor, r_k: torch.Tensor, y: torch.Tensor,
    r: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
) -> torch.Tensor:
    """The heads' group-normed WKV output y [B, T, H, N] plus the bonus (r . k r_k) v, times the gate g: [B, T, C],
    written over y where it is contiguous. k and v are the recurrence's inputs; r_k [H, N]."""
    H, N = r_k.shape
    y, r, k, v, g = (t.contiguous() for t in (y, r, k, v, g))
    vectors = [_vector(ln_weight), _vector(ln_bias), _vector(r_k)]
    lib.rwkv7_attention_output(
        y.numel() // (H * N), H, N, *(t.data_ptr() for t in vectors),
        y.data_ptr(), r.data_ptr(), k.data_ptr(), v.data_ptr(), g.data_ptr(),
    )
    return y.view(*y.shape[:-2], H * N) if y.dim() == 4 else y
