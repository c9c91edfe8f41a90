"""Fused Triton WKV-7 forward, token by token: decode (T = 1) and short inputs on CUDA.

One program owns a block of BV value rows of one (batch, head) state, S[i-block, :], for the whole sequence: the
rows of S evolve independently (row i only ever reads row i: (S a)_i, S_i r), so value blocks need no communication
and the state never leaves registers between tokens. Per token, with the state laid out (value i, key j):
    S = S diag(decay) + (S a) b^T + v k^T,   y = S r,   decay = exp(-0.6065306597126334 * sigmoid(w)) in fp32.
Inputs may be fp32/bf16/fp16 and are cast to fp32 on load; the state is fp32 in and out.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

# Value rows per program. Decode is bound by reading and writing the state once, so it splits each head over more
# programs (4 at N = 64) to spread that traffic over more SMs at batch 1; longer inputs also re-read r, w, k, a, b per
# value block, so they take fewer, larger blocks.
BLOCK_V_DECODE = 16
BLOCK_V = 32


@triton.jit
def program_tile(H: tl.constexpr, N: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr):
    """What every WKV-7 program of grid (B * H, cdiv(N, BV)) works on: its batch-head bh (and b, h), its value block
    iv, the key columns and value rows of its state slice with their bounds, and that slice's offsets within one
    [N, N] state."""
    bh = tl.program_id(0).to(tl.int64)
    iv = tl.program_id(1)
    cols = tl.arange(0, BK)
    rows = iv * BV + tl.arange(0, BV)
    col_ok = cols < N
    row_ok = rows < N
    return (bh, iv, bh // H, bh % H, cols, rows, col_ok, row_ok, rows[:, None] * N + cols[None, :],
            row_ok[:, None] & col_ok[None, :])


@triton.jit
def _wkv7_recurrent_kernel(
    r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, s0_ptr, mask_ptr, y_ptr, s_ptr,
    T, H: tl.constexpr, N: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    HAS_MASK: tl.constexpr, DECODE: tl.constexpr,
):
    # grid: (B * H, cdiv(N, BV)); inputs [B, T, H, N] contiguous, state [B, H, N, N]
    bh, iv, bb, hh, cols, rows, col_ok, row_ok, s_tile, s_ok = program_tile(H, N, BK, BV)
    S = tl.load(s0_ptr + bh * N * N + s_tile, mask=s_ok, other=0.0)
    if DECODE:
        # T == 1 known at compile time: the one-trip loop below is folded into straight-line code
        steps = 1
    else:
        steps = T
    # The step is written inline rather than as a @triton.jit helper: the CPU interpreter re-patches the language
    # on every helper call, which makes the interpreted tests several times slower.
    for t in range(steps):
        o = ((bb * T + t) * H + hh) * N
        r = tl.load(r_ptr + o + cols, mask=col_ok, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + o + cols, mask=col_ok, other=0.0).to(tl.float32)
        k = tl.load(k_ptr + o + cols, mask=col_ok, other=0.0).to(tl.float32)
        v = tl.load(v_ptr + o + rows, mask=row_ok, other=0.0).to(tl.float32)
        a = tl.load(a_ptr + o + cols, mask=col_ok, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + o + cols, mask=col_ok, other=0.0).to(tl.float32)
        decay = tl.exp(-0.6065306597126334 * tl.sigmoid(w))
        sa = tl.sum(S * a[None, :], axis=1)
        new = S * decay[None, :] + sa[:, None] * b[None, :] + v[:, None] * k[None, :]
        if HAS_MASK:
            # a select, not a multiply: a masked token keeps S bit-exact even if its inputs are NaN padding
            S = tl.where(tl.load(mask_ptr + bb * T + t) != 0, new, S)
        else:
            S = new
        tl.store(y_ptr + o + rows, tl.sum(S * r[None, :], axis=1).to(y_ptr.dtype.element_ty), mask=row_ok)
    tl.store(s_ptr + bh * N * N + s_tile, S, mask=s_ok)


def wkv7_triton_recurrent(
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
    """Same contract as `kernels.wkv7` (forward only); T == 1 runs the loop-free decode specialisation."""
    B, T, H, N = r.shape
    r, w, k, v, a, b = (x.contiguous() for x in (r, w, k, v, a, b))
    y = torch.empty_like(r)
    new_state = torch.empty_like(state) if out is None else out
    # a masked step must still see a valid pointer; the flag tells the kernel not to read it
    mask_arg = mask.to(torch.int8).contiguous() if mask is not None else new_state
    BK = max(16, triton.next_power_of_2(N))
    BV = min(BLOCK_V_DECODE if T == 1 else BLOCK_V, BK)
    _wkv7_recurrent_kernel[(B * H, triton.cdiv(N, BV))](
        r, w, k, v, a, b, state.contiguous(), mask_arg, y, new_state,
        T, H=H, N=N, BK=BK, BV=BV, HAS_MASK=mask is not None, DECODE=T == 1,
    )
    return y, new_state
