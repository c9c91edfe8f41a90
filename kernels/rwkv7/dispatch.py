"""The single entry point to the WKV-7 recurrence: checks the inputs once, then picks the fastest exact path.

Every path computes, per batch b and head h, with the fp32 state S laid out (value i, key j):
    S_t = S_{t-1} diag(decay_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T,   y_t = S_t r_t,
    decay_t = exp(-0.6065306597126334 * sigmoid(w_t))  (made in fp32 from the pre-activation w).

CUDA tensors run the Triton kernels when triton is installed; CPU tensors the recurrence in C (`cpu_recurrence.c`) for
inference where it can be built, else (and with gradients) the torch paths. MODRWKV_WKV_BACKEND=torch, native or triton
forces one (triton on CPU needs TRITON_INTERPRET=1, which the tests set); unset or "auto" picks by device.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable

import torch

from kernels.rwkv7 import cpu_recurrence
from kernels.rwkv7.torch_chunk import wkv7_chunk
from kernels.rwkv7.torch_recurrent import wkv7_recurrent, wkv7_step

# Below this many tokens the per-token loop beats the chunked matmuls on a CPU; around it the two are even, and the
# chunked form wins clearly on long inputs (see docs/kernels.md).
CHUNK_MIN_T = 16
# Triton: below one chunk the chunked kernel pads to a full chunk of C x C products, so the fused per-token kernel takes
# those inputs.
TRITON_CHUNK_MIN_T = 32

BACKENDS = ("auto", "torch", "native", "triton")

_FLOATS = (torch.float32, torch.bfloat16, torch.float16)


def _check(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor,
    mask: torch.Tensor | None,
) -> None:
    if r.dim() != 4:
        raise ValueError(f"wkv7: r must be [B, T, H, N], found shape {tuple(r.shape)}")
    B, T, H, N = r.shape
    if T == 0:
        raise ValueError("wkv7: expected at least one token (T >= 1), found T = 0")
    for name, x in (("r", r), ("w", w), ("k", k), ("v", v), ("a", a), ("b", b)):
        if x.shape != r.shape:
            raise ValueError(f"wkv7: {name} must match r, [B, T, H, N] = {tuple(r.shape)}, found {tuple(x.shape)}")
        if x.dtype not in _FLOATS:
            raise ValueError(f"wkv7: {name} must be float32, bfloat16 or float16, found {x.dtype}")
        if x.device != r.device:
            raise ValueError(f"wkv7: {name} must be on r's device {r.device}, found {x.device}")
    if state.shape != (B, H, N, N):
        raise ValueError(f"wkv7: state must be [B, H, N, N] = {(B, H, N, N)}, found {tuple(state.shape)}")
    if state.dtype != torch.float32:
        raise ValueError(f"wkv7: state must be float32, found {state.dtype}")
    if state.device != r.device:
        raise ValueError(f"wkv7: state must be on r's device {r.device}, found {state.device}")
    if mask is not None:
        if mask.shape != (B, T):
            raise ValueError(f"wkv7: mask must be [B, T] = {(B, T)}, found {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"wkv7: mask must be bool, found {mask.dtype}")
        if mask.device != r.device:
            raise ValueError(f"wkv7: mask must be on r's device {r.device}, found {mask.device}")


def _backend() -> str:
    backend = os.environ.get("MODRWKV_WKV_BACKEND", "auto")
    if backend not in BACKENDS:
        raise ValueError(f"MODRWKV_WKV_BACKEND must be one of {', '.join(BACKENDS)}, found {backend!r}")
    return backend


@functools.cache
def _triton_paths() -> tuple[Callable, Callable] | None:
    """(fused recurrent, chunked) Triton paths, or None without triton.

    Imported on first use, not with this module: CPU users never pay for importing triton, and TRITON_INTERPRET is
    read when the kernels are defined, so a late import honours a flag set after `kernels` was imported.
    """
    try:
        from kernels.rwkv7.triton_chunk import wkv7_triton_chunk
        from kernels.rwkv7.triton_recurrent import wkv7_triton_recurrent
    except ImportError:
        return None
    return wkv7_triton_recurrent, wkv7_triton_chunk


def wkv7(
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
    """Run T tokens of the WKV-7 recurrence from `state`.

    r, w, k, v, a, b: [B, T, H, N] fp32/bf16/fp16, w being the decay pre-activation.
    state: [B, H, N, N] fp32, (value, key); never modified. mask: optional bool [B, T]; a False step leaves the state
    as it was (its y is finite but meaningless).
    out: optional contiguous [B, H, N, N] fp32 tensor, not `state`, that receives the new state (inference only: a
    model writes every layer's state into one preallocated tensor instead of stacking them after each token).
    Returns y [B, T, H, N] in r's dtype and the new fp32 state (`out` when given).
    """
    _check(r, w, k, v, a, b, state, mask)
    if out is not None:
        _check_out(out, state, r, w, k, v, a, b)
        y, new = _run(r, w, k, v, a, b, state, mask, out)
        if new is not out:  # the paths without an in-place form
            out.copy_(new)
        return y, out
    return _run(r, w, k, v, a, b, state, mask, None)


def _check_out(out: torch.Tensor, state: torch.Tensor, *inputs: torch.Tensor) -> None:
    if out.shape != state.shape or out.dtype != torch.float32 or out.device != state.device or not out.is_contiguous():
        raise ValueError(
            f"wkv7: out must be a contiguous float32 tensor {tuple(state.shape)} on {state.device}, "
            f"found {out.dtype} {tuple(out.shape)} on {out.device}"
        )
    if out.data_ptr() == state.data_ptr():
        raise ValueError("wkv7: out must not be the input state (the state is never modified)")
    if _needs_grad(state, *inputs):
        raise ValueError("wkv7: out is for inference; with gradients the new state must be a fresh tensor")


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(x.requires_grad for x in tensors)


def _run(r, w, k, v, a, b, state, mask, out):  # noqa: ANN001, ANN202 (wkv7's arguments, checked)
    T = r.shape[1]
    backend = _backend()
    if backend == "triton" or (backend == "auto" and r.is_cuda):
        paths = _triton_paths()
        if paths is None and backend == "triton":
            raise RuntimeError("wkv7: MODRWKV_WKV_BACKEND=triton but triton is not installed")
        if paths is not None:
            recurrent, chunk = paths
            # only the chunked kernel has a backward, so training takes it whatever T is
            if _needs_grad(r, w, k, v, a, b, state) or T >= TRITON_CHUNK_MIN_T:
                return chunk(r, w, k, v, a, b, state, mask)
            return recurrent(r, w, k, v, a, b, state, mask, out)  # T == 1 compiles its loop-free decode variant
    if backend in ("auto", "native") and not r.is_cuda and not _needs_grad(r, w, k, v, a, b, state):
        lib = cpu_recurrence.library() if cpu_recurrence.supports(r.shape[-1]) else None
        if lib is not None:  # the plain recurrence: fewer FLOPs than the chunked form
            return cpu_recurrence.wkv7_native(lib, r, w, k, v, a, b, state, mask, out)
        if backend == "native":
            raise RuntimeError("wkv7: MODRWKV_WKV_BACKEND=native but the C kernel could not be built (no C compiler, "
                               f"no AVX2, or MODRWKV_NATIVE=0) or does not take head size {r.shape[-1]} (a multiple "
                               f"of {cpu_recurrence.HEAD_SIZE_MULTIPLE} only)")
    if T == 1:
        return wkv7_step(r, w, k, v, a, b, state, mask, out)
    if T < CHUNK_MIN_T:
        return wkv7_recurrent(r, w, k, v, a, b, state, mask)
    return wkv7_chunk(r, w, k, v, a, b, state, mask)
