"""The WKV-7 recurrence in C for CPU inference (`cpu_recurrence.c`, built on first use by `build`)."""
from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from kernels.rwkv7 import build

SOURCE = Path(__file__).with_name("cpu_recurrence.c")
PROTOTYPES = (("wkv7_forward", (ctypes.c_int,) * 4 + (ctypes.c_void_p,) * 10, None),)
HEAD_SIZE_MULTIPLE = 16  # the kernel updates sixteen values of a head at a time


def supports(head_size: int) -> bool:
    return head_size % HEAD_SIZE_MULTIPLE == 0


def library() -> ctypes.CDLL | None:
    """The compiled recurrence, or None where it cannot be built or MODRWKV_NATIVE=0."""
    return build.load(SOURCE, PROTOTYPES)


def wkv7_native(
    lib: ctypes.CDLL,
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor,
    mask: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`wkv7`'s contract on checked CPU inputs without gradients: y in r's dtype, the new fp32 state (`out` if
    given)."""
    B, T, H, N = r.shape
    ins = [x.detach().float().contiguous() for x in (r, w, k, v, a, b)]
    flags = None if mask is None else mask.to(torch.uint8).contiguous()
    state = state.detach().contiguous()
    y = torch.empty(B, T, H, N)
    new = out if out is not None else torch.empty(B, H, N, N)
    lib.wkv7_forward(B, T, H, N, *(x.data_ptr() for x in ins), None if flags is None else flags.data_ptr(),
                     state.data_ptr(), y.data_ptr(), new.data_ptr())
    return y.to(r.dtype), new
