"""Chunked Triton WKV-7 (prefill and training): forward and backward kernels behind one autograd.Function.

Same algebra as `kernels.rwkv7.torch_chunk`. Within a chunk of C tokens, with G_t = prod_{i<=t} decay_i
(per key channel), u_t = S_{t-1} a_t and the tilded vectors a~_t = a_t G_{t-1}, r~_t = r_t G_t, b~_s = b_s / G_s,
k~_s = k_s / G_s, b^_s = b_s G_C / G_s, k^_s = k_s G_C / G_s:
    (I - A_ab) U = a~ S_0^T + A_ak V          A_ab = strict_tril(a~ b~^T), A_ak = strict_tril(a~ k~^T)
    Y   = r~ S_0^T + A_rb U + A_rk V          A_rb = tril(r~ b~^T),        A_rk = tril(r~ k~^T)
    S_C = S_0 diag(G_C) + U^T b^ + V^T k^
A_ab is strictly lower triangular, hence nilpotent: (I - A_ab)^-1 = (I + A)(I + A^2)(I + A^4)...(I + A^(C/2)) exactly,
log2(C) - 1 squarings and as many products of C x C tiles, no row-by-row substitution.

The forward runs in two passes. The first takes every chunk at once (grid: chunks x batch-heads) and reduces each to an
affine map of its starting state (see _chunk_intra_kernel); the second walks the chunks in order with one program per
(batch, head, block of BV value rows) (row i of the state only ever reads row i, so value blocks are independent),
applying each map with two small products while its [BV, N] slice of the state stays in registers. The backward is one
fused kernel over the same value blocks, walking the chunks in reverse from the chunk-start states the forward stored;
its intra-chunk C x C matrices are recomputed by each of the N / BV programs of a head.

With fp32 inputs every product runs on the tensor cores as 3xTF32 (each fp32 operand split into a TF32 head and tail,
three products): fp32-level accuracy, where plain TF32 keeps 10 mantissa bits (far from 1e-5). FMA dots ("ieee") are
exact too, but Triton gives each thread whole operand rows of an FMA dot, and at N = 64 that spilled kilobytes per
thread to local memory. bf16/fp16 inputs take plain TF32 products in the forward: 10 mantissa bits are more than bf16
carries (7) and as many as fp16, and one product instead of three (see `launch_for`). Accumulation, decay factors and
the state are fp32 in every case; inputs are cast on load. The backward always runs 3xTF32.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import triton
import triton.language as tl

from kernels.rwkv7.triton_recurrent import program_tile

# Chunk length: 1/G_s stays below exp(0.6065 * C), finite in fp32 up to C = 64. The backward's C x C tiles were tuned
# at 32 and are not taken beyond it.
CHUNK_SIZE, MAX_BACKWARD_CHUNK = 32, 32
# Value rows per program: the state slice [BV, N] and its gradient stay in registers in the backward.
BLOCK_V = 32
# Products of fp32 inputs and of every backward: fp32-accurate on the tensor cores (see the module docstring).
DOT = "tf32x3"
# Warps per program. ptxas left to itself gave some 4-warp versions of these kernels 32 registers and kilobytes of
# local memory (seen with ptxas 13.4 for sm_90a), hence the explicit register cap of 255 (the hardware maximum).
INTRA_WARPS, STATE_WARPS, BWD_WARPS = 8, 4, 8
MAX_REGISTERS = 255


@triton.jit
def _chunk_rows(c, bb, T, mask_ptr, C: tl.constexpr, HAS_MASK: tl.constexpr):
    """Token positions t of chunk c and which of them are live (inside T and not masked)."""
    ti = tl.arange(0, C)
    t = c * C + ti
    on = t < T
    if HAS_MASK:
        on = on & (tl.load(mask_ptr + bb * T + t, mask=t < T, other=0) != 0)
    return ti, t, on


@triton.jit
def _load_live(ptr, offs, idx, io, off):
    # masked tokens and the zero tail past T become identities: log-decay 0 and nothing written. A select, not a
    # multiply, so NaN garbage in padding cannot leak into the state; a too, because 0 * NaN in the solve below would
    # spread over the whole chunk (r stays: y at a masked step is S r like the other paths, and touches no state).
    return tl.where(off, 0.0, tl.load(ptr + offs + idx[None, :], mask=io, other=0.0).to(tl.float32))


@triton.jit
def _log_decay(w_ptr, offs, cols, kmask, off, ti, C: tl.constexpr):
    """sigmoid(w), the log-decay per token, its inclusive cumsum log G_t and the chunk's total log G_C."""
    sig = tl.sigmoid(tl.load(w_ptr + offs + cols[None, :], mask=kmask, other=0.0).to(tl.float32))
    lw = tl.where(off, 0.0, -0.6065306597126334 * sig)
    lg = tl.cumsum(lw, axis=0)
    lg_end = tl.sum(tl.where(ti[:, None] == C - 1, lg, 0.0), axis=0)  # the last row exactly, so G_C / G_C == 1
    return sig, lw, lg, lg_end


@triton.jit
def _unit_lower_inverse(A, ti, LOG2C: tl.constexpr, PREC: tl.constexpr):
    """(I - A)^-1 for strictly lower triangular A, as the product of (I + A^(2^p)), p < log2(C)."""
    M = tl.where(ti[:, None] == ti[None, :], 1.0, 0.0) + A
    P = A
    for _ in tl.static_range(LOG2C - 1):
        P = tl.dot(P, P, input_precision=PREC)
        M = M + tl.dot(M, P, input_precision=PREC)
    return M


@triton.jit
def _chunk(
    c, bb, hh, T, r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, mask_ptr,
    rows, cols, row_ok, col_ok,
    H: tl.constexpr, N: tl.constexpr, C: tl.constexpr, LOG2C: tl.constexpr, HAS_MASK: tl.constexpr, PREC: tl.constexpr,
):
    """Load chunk c of one (b, h) and build everything the backward needs that does not involve the state."""
    ti, t, on = _chunk_rows(c, bb, T, mask_ptr, C, HAS_MASK)
    offs = ((bb * T + t[:, None]) * H + hh) * N
    kmask = (t < T)[:, None] & col_ok[None, :]
    off = ~on[:, None]
    sig, lw, lg, lg_end = _log_decay(w_ptr, offs, cols, kmask, off, ti, C)
    r = tl.load(r_ptr + offs + cols[None, :], mask=kmask, other=0.0).to(tl.float32)
    k = _load_live(k_ptr, offs, cols, kmask, off)
    a = _load_live(a_ptr, offs, cols, kmask, off)
    b = _load_live(b_ptr, offs, cols, kmask, off)
    v = _load_live(v_ptr, offs, rows, (t < T)[:, None] & row_ok[None, :], off)
    e_in = tl.exp(lg - lw)
    g = tl.exp(lg)
    inv = tl.exp(-lg)
    to_end = tl.exp(lg_end[None, :] - lg)  # G_C / G_s directly: <= 1, no cancellation
    a_in = a * e_in
    r_in = r * g
    b_in = b * inv
    k_in = k * inv
    b_end = b * to_end
    k_end = k * to_end
    strict = ti[:, None] > ti[None, :]
    incl = ti[:, None] >= ti[None, :]
    A_ab = tl.where(strict, tl.dot(a_in, tl.trans(b_in), input_precision=PREC), 0.0)
    A_ak = tl.where(strict, tl.dot(a_in, tl.trans(k_in), input_precision=PREC), 0.0)
    A_rb = tl.where(incl, tl.dot(r_in, tl.trans(b_in), input_precision=PREC), 0.0)
    A_rk = tl.where(incl, tl.dot(r_in, tl.trans(k_in), input_precision=PREC), 0.0)
    M = _unit_lower_inverse(A_ab, ti, LOG2C, PREC)
    return (t, on, offs, sig, lw, lg_end, e_in, g, inv, to_end, v,
            a_in, r_in, b_in, k_in, b_end, k_end, A_ab, A_ak, A_rb, A_rk, M)


@triton.jit
def _chunk_intra_kernel(
    r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, mask_ptr, q_ptr, yv_ptr, g_ptr, l_ptr, d_ptr,
    T, NC, H: tl.constexpr, N: tl.constexpr, C: tl.constexpr, LOG2C: tl.constexpr, BK: tl.constexpr,
    HAS_MASK: tl.constexpr, PREC: tl.constexpr,
):
    # grid: (NC, B * H), every chunk at once. With W_a = M a~ and U_v = M A_ak V, the chunk's effect on any starting
    # state S_0 is affine:  Y = Q S_0^T + Y_v  and  S_C = S_0 diag(G_C) + S_0 L + D, where
    #   Q = r~ + A_rb W_a,  Y_v = A_rb U_v + A_rk V,  L = W_a^T b^,  D = U_v^T b^ + V^T k^.
    # The diagonal stays apart, applied elementwise: a 3xTF32 product by the identity is not exact, and a chunk that
    # is all padding must hand its state on bit for bit.
    # Only the two small products per chunk of the state pass remain sequential. The steps are ordered so that each
    # [C, N] tile dies as early as it can: with every tile live at once the program spills to local memory.
    c = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    bb, hh = bh // H, bh % H
    cols = tl.arange(0, BK)
    col_ok = cols < N
    ti, t, on = _chunk_rows(c, bb, T, mask_ptr, C, HAS_MASK)
    offs = ((bb * T + t[:, None]) * H + hh) * N
    io = (t < T)[:, None] & col_ok[None, :]
    off = ~on[:, None]
    _, lw, lg, lg_end = _log_decay(w_ptr, offs, cols, io, off, ti, C)
    a_in = _load_live(a_ptr, offs, cols, io, off) * tl.exp(lg - lw)
    b_in = _load_live(b_ptr, offs, cols, io, off) * tl.exp(-lg)
    M = _unit_lower_inverse(
        tl.where(ti[:, None] > ti[None, :], tl.dot(a_in, tl.trans(b_in), input_precision=PREC), 0.0), ti, LOG2C, PREC
    )
    k_in = _load_live(k_ptr, offs, cols, io, off) * tl.exp(-lg)
    v = _load_live(v_ptr, offs, cols, io, off)
    A_ak = tl.where(ti[:, None] > ti[None, :], tl.dot(a_in, tl.trans(k_in), input_precision=PREC), 0.0)
    Wa = tl.dot(M, a_in, input_precision=PREC)
    Uv = tl.dot(M, tl.dot(A_ak, v, input_precision=PREC), input_precision=PREC)
    r_in = tl.load(r_ptr + offs + cols[None, :], mask=io, other=0.0).to(tl.float32) * tl.exp(lg)
    incl = ti[:, None] >= ti[None, :]
    A_rb = tl.where(incl, tl.dot(r_in, tl.trans(b_in), input_precision=PREC), 0.0)
    tl.store(q_ptr + offs + cols[None, :], r_in + tl.dot(A_rb, Wa, input_precision=PREC), mask=io)
    A_rk = tl.where(incl, tl.dot(r_in, tl.trans(k_in), input_precision=PREC), 0.0)
    yv = tl.dot(A_rb, Uv, input_precision=PREC) + tl.dot(A_rk, v, input_precision=PREC)
    tl.store(yv_ptr + offs + cols[None, :], yv, mask=io)
    # b^ = b G_C / G_s and k^ likewise, from b~ and k~ (b~ G_C): G_C / G_s directly would cost two more live tiles
    g_end = tl.exp(lg_end)[None, :]
    b_end = b_in * g_end
    tl.store(g_ptr + (bh * NC + c) * N + cols[None, :], g_end, mask=col_ok[None, :])
    low_rank = tl.dot(tl.trans(Wa), b_end, input_precision=PREC)
    d = tl.dot(tl.trans(Uv), b_end, input_precision=PREC) + tl.dot(tl.trans(v), k_in * g_end, input_precision=PREC)
    nn = (bh * NC + c) * N * N + cols[:, None] * N + cols[None, :]
    ok = col_ok[:, None] & col_ok[None, :]
    tl.store(l_ptr + nn, low_rank, mask=ok)
    tl.store(d_ptr + nn, d, mask=ok)


@triton.jit
def _chunk_state_kernel(
    s0_ptr, q_ptr, yv_ptr, g_ptr, l_ptr, d_ptr, y_ptr, s_ptr, h_ptr,
    T, NC, H: tl.constexpr, N: tl.constexpr, C: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    STORE_STATES: tl.constexpr, PREC: tl.constexpr,
):
    # grid: (B * H, cdiv(N, BV)); walks the chunks in order with its [BV, N] slice of the state in registers.
    # h [B, H, NC, N, N] gets each chunk's starting state when the backward will need it.
    bh, iv, bb, hh, cols, rows, col_ok, row_ok, s_tile, s_ok = program_tile(H, N, BK, BV)
    ti = tl.arange(0, C)
    ok = col_ok[:, None] & col_ok[None, :]
    S = tl.load(s0_ptr + bh * N * N + s_tile, mask=s_ok, other=0.0)
    for c in range(NC):
        if STORE_STATES:
            tl.store(h_ptr + (bh * NC + c) * N * N + s_tile, S, mask=s_ok)
        t = c * C + ti
        offs = ((bb * T + t[:, None]) * H + hh) * N
        q = tl.load(q_ptr + offs + cols[None, :], mask=(t < T)[:, None] & col_ok[None, :], other=0.0)
        vmask = (t < T)[:, None] & row_ok[None, :]
        y = tl.dot(q, tl.trans(S), input_precision=PREC) + tl.load(yv_ptr + offs + rows[None, :], mask=vmask, other=0.0)
        tl.store(y_ptr + offs + rows[None, :], y.to(y_ptr.dtype.element_ty), mask=vmask)
        base = (bh * NC + c) * N * N
        low_rank = tl.load(l_ptr + base + cols[:, None] * N + cols[None, :], mask=ok, other=0.0)
        g_end = tl.load(g_ptr + (bh * NC + c) * N + cols, mask=col_ok, other=1.0)
        d = tl.load(d_ptr + base + s_tile, mask=s_ok, other=0.0)
        S = S * g_end[None, :] + tl.dot(S, low_rank, input_precision=PREC) + d
    tl.store(s_ptr + bh * N * N + s_tile, S, mask=s_ok)


@triton.jit
def _chunk_bwd_kernel(
    r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, mask_ptr, h_ptr, dy_ptr, dsT_ptr,
    dr_ptr, dw_ptr, dk_ptr, dv_ptr, da_ptr, db_ptr, ds0_ptr,
    T, NC, B, H: tl.constexpr, N: tl.constexpr, C: tl.constexpr, LOG2C: tl.constexpr,
    BK: tl.constexpr, BV: tl.constexpr, HAS_MASK: tl.constexpr, PREC: tl.constexpr,
):
    # grid: (B * H, cdiv(N, BV)); walks the chunks in reverse carrying dS = dL/dS_C for this value block.
    # dv and dS_0 belong to this block's value rows and are final; dr, dw, dk, da, db sum over all value rows, so each
    # program writes its partial into its own slice [iv] of [NV, B, T, H, N] buffers (deterministic, no atomics).
    bh, iv, bb, hh, cols, rows, col_ok, row_ok, s_tile, s_ok = program_tile(H, N, BK, BV)
    part = iv.to(tl.int64) * B * T * H * N  # this block's slice of the partial-gradient buffers
    ti = tl.arange(0, C)
    strict = ti[:, None] > ti[None, :]
    incl = ti[:, None] >= ti[None, :]
    dS = tl.load(dsT_ptr + bh * N * N + s_tile, mask=s_ok, other=0.0)
    for cc in range(NC):
        c = NC - 1 - cc
        (t, on, offs, sig, lw, lg_end, e_in, g, inv, to_end, v,
         a_in, r_in, b_in, k_in, b_end, k_end, A_ab, A_ak, A_rb, A_rk, M) = _chunk(
            c, bb, hh, T, r_ptr, w_ptr, k_ptr, v_ptr, a_ptr, b_ptr, mask_ptr,
            rows, cols, row_ok, col_ok, H, N, C, LOG2C, HAS_MASK, PREC)
        S = tl.load(h_ptr + (bh * NC + c) * N * N + s_tile, mask=s_ok, other=0.0)
        U = tl.dot(M, tl.dot(a_in, tl.trans(S), input_precision=PREC) + tl.dot(A_ak, v, input_precision=PREC),
                   input_precision=PREC)
        vmask = (t < T)[:, None] & row_ok[None, :]
        dy = tl.load(dy_ptr + offs + rows[None, :], mask=vmask, other=0.0).to(tl.float32)
        gend = tl.exp(lg_end)
        # S_C = S_0 diag(G_C) + U^T b^ + V^T k^
        dU = tl.dot(b_end, tl.trans(dS), input_precision=PREC)
        db_end = tl.dot(U, dS, input_precision=PREC)
        dv = tl.dot(k_end, tl.trans(dS), input_precision=PREC)
        dk_end = tl.dot(v, dS, input_precision=PREC)
        dlg_end = tl.sum(S * dS, axis=0) * gend
        dS = dS * gend[None, :]
        # Y = r~ S_0^T + A_rb U + A_rk V
        dr_in = tl.dot(dy, S, input_precision=PREC)
        dS += tl.dot(tl.trans(dy), r_in, input_precision=PREC)
        dU += tl.dot(tl.trans(A_rb), dy, input_precision=PREC)
        dv += tl.dot(tl.trans(A_rk), dy, input_precision=PREC)
        dA_rb = tl.where(incl, tl.dot(dy, tl.trans(U), input_precision=PREC), 0.0)
        dA_rk = tl.where(incl, tl.dot(dy, tl.trans(v), input_precision=PREC), 0.0)
        # U = M (a~ S_0^T + A_ak V), M = (I - A_ab)^-1: the right-hand side gets Gr = M^T dU, A_ab gets Gr U^T
        Gr = tl.dot(tl.trans(M), dU, input_precision=PREC)
        da_in = tl.dot(Gr, S, input_precision=PREC)
        dS += tl.dot(tl.trans(Gr), a_in, input_precision=PREC)
        dv += tl.dot(tl.trans(A_ak), Gr, input_precision=PREC)
        dA_ak = tl.where(strict, tl.dot(Gr, tl.trans(v), input_precision=PREC), 0.0)
        dA_ab = tl.where(strict, tl.dot(Gr, tl.trans(U), input_precision=PREC), 0.0)
        # the four C x C products back to the tilded vectors
        da_in += tl.dot(dA_ab, b_in, input_precision=PREC) + tl.dot(dA_ak, k_in, input_precision=PREC)
        dr_in += tl.dot(dA_rb, b_in, input_precision=PREC) + tl.dot(dA_rk, k_in, input_precision=PREC)
        db_in = (tl.dot(tl.trans(dA_ab), a_in, input_precision=PREC)
                 + tl.dot(tl.trans(dA_rb), r_in, input_precision=PREC))
        dk_in = (tl.dot(tl.trans(dA_ak), a_in, input_precision=PREC)
                 + tl.dot(tl.trans(dA_rk), r_in, input_precision=PREC))
        # through the decay factors: x~ = x exp(+-lg ...), so d(log-decay) collects x~ dx~ with the exponent's sign
        dlg = dr_in * r_in + da_in * a_in - db_in * b_in - dk_in * k_in - db_end * b_end - dk_end * k_end
        dlg_end += tl.sum(db_end * b_end + dk_end * k_end, axis=0)
        # lg = cumsum(lw) and lg_end = lg[C-1]; a~ uses lg - lw, hence its extra -da_in a_in
        dlw = tl.cumsum(dlg, axis=0, reverse=True) + dlg_end[None, :] - da_in * a_in
        dw = tl.where(on[:, None], dlw * (-0.6065306597126334) * sig * (1.0 - sig), 0.0)
        dk = tl.where(on[:, None], dk_in * inv + dk_end * to_end, 0.0)
        db = tl.where(on[:, None], db_in * inv + db_end * to_end, 0.0)
        dv = tl.where(on[:, None], dv, 0.0)
        kmask = (t < T)[:, None] & col_ok[None, :]
        kp = part + offs + cols[None, :]
        tl.store(dr_ptr + kp, dr_in * g, mask=kmask)
        tl.store(dw_ptr + kp, dw, mask=kmask)
        tl.store(dk_ptr + kp, dk, mask=kmask)
        tl.store(da_ptr + kp, tl.where(on[:, None], da_in * e_in, 0.0), mask=kmask)
        tl.store(db_ptr + kp, db, mask=kmask)
        tl.store(dv_ptr + offs + rows[None, :], dv.to(dv_ptr.dtype.element_ty), mask=vmask)
    tl.store(ds0_ptr + bh * N * N + s_tile, dS, mask=s_ok)


def _blocks(N: int, block_v: int = BLOCK_V) -> tuple[int, int, int]:
    BK = max(16, triton.next_power_of_2(N))  # tl.dot needs every dimension >= 16
    BV = min(block_v, BK)
    return BK, BV, triton.cdiv(N, BV)


@dataclass(frozen=True)
class ChunkLaunch:
    """How a forward is launched: chunk length, warps of its two kernels, value rows per state-pass program, and the
    tensor-core precision of its products."""
    chunk: int = CHUNK_SIZE
    intra_warps: int = INTRA_WARPS
    state_warps: int = STATE_WARPS
    block_v: int = BLOCK_V
    precision: str = DOT


def launch_for(batch_heads: int, dtype: torch.dtype, grad: bool = False) -> ChunkLaunch:
    """The forward launch tuned fastest for B * H heads of inputs in `dtype` (`grad`: a backward will follow).

    Few heads leave most SMs idle, so the sequential state pass dominates: longer chunks (fewer sequential steps) and
    16 value rows per program (twice the programs) win there; many heads fill the GPU with intra-chunk work, where
    smaller tiles and 4 warps (two programs per SM at 255 registers) win. The choices came from timing the two
    passes apart for every chunk length, warp count and value block, then end to end (see docs/kernels.md).
    """
    if dtype == torch.float32:
        if batch_heads < 32:
            return ChunkLaunch(chunk=32, intra_warps=8, block_v=16, precision=DOT)
        return ChunkLaunch(chunk=16, intra_warps=4, block_v=16 if batch_heads < 64 else 32, precision=DOT)
    chunk = 64 if batch_heads <= 16 else 32
    if grad:
        chunk = min(chunk, MAX_BACKWARD_CHUNK)
    return ChunkLaunch(chunk=chunk, intra_warps=8 if chunk == 64 else 4, block_v=16 if batch_heads < 128 else 32,
                       precision="tf32")


def intra_chunk_maps(r, w, k, v, a, b, mask_arg, has_mask: bool, launch: ChunkLaunch):  # noqa: ANN001, ANN201
    """First pass: every chunk's affine map of its starting state, (Q, Y_v, G_C, L, D) (see _chunk_intra_kernel)."""
    B, T, H, N = r.shape
    BK, _, _ = _blocks(N, launch.block_v)
    C = launch.chunk
    NC = triton.cdiv(T, C)
    # fp32: Q and Y_v like the inputs, G_C one N-vector, L and D one N x N each per chunk
    q, yv = (torch.empty(B, T, H, N, device=r.device) for _ in range(2))
    g_end = torch.empty(B, H, NC, N, device=r.device)
    low_rank, d = (torch.empty(B, H, NC, N, N, device=r.device) for _ in range(2))
    _chunk_intra_kernel[(NC, B * H)](
        r, w, k, v, a, b, mask_arg, q, yv, g_end, low_rank, d,
        T, NC, H=H, N=N, C=C, LOG2C=C.bit_length() - 1, BK=BK, HAS_MASK=has_mask, PREC=launch.precision,
        num_warps=launch.intra_warps, maxnreg=MAX_REGISTERS,
    )
    return q, yv, g_end, low_rank, d


def state_pass(state, maps, y, new_state, h, store: bool, launch: ChunkLaunch) -> None:  # noqa: ANN001
    """Second pass: the chunks in order, each map applied to the state; writes y, the final state and (with `store`)
    every chunk's starting state into h."""
    B, T, H, N = y.shape
    BK, BV, NV = _blocks(N, launch.block_v)
    _chunk_state_kernel[(B * H, NV)](
        state, *maps, y, new_state, h,
        T, maps[2].shape[2], H=H, N=N, C=launch.chunk, BK=BK, BV=BV, STORE_STATES=store, PREC=launch.precision,
        num_warps=launch.state_warps, maxnreg=MAX_REGISTERS,
    )


class _WKV7Chunk(torch.autograd.Function):
    @staticmethod
    def forward(ctx, r, w, k, v, a, b, state, mask, chunk_size):  # noqa: ANN001, ANN205 (autograd signature)
        B, T, H, N = r.shape
        r, w, k, v, a, b = (x.contiguous() for x in (r, w, k, v, a, b))
        state = state.contiguous()
        store = any(ctx.needs_input_grad)
        launch = launch_for(B * H, r.dtype, grad=store)
        if chunk_size is not None:
            if store and chunk_size > MAX_BACKWARD_CHUNK:
                raise ValueError(f"wkv7_triton_chunk: chunk_size {chunk_size} has no backward (at most "
                                 f"{MAX_BACKWARD_CHUNK} when gradients are needed)")
            launch = replace(launch, chunk=chunk_size)
        NC = triton.cdiv(T, launch.chunk)
        y = torch.empty_like(r)
        new_state = torch.empty_like(state)
        # chunk-start states for the backward: B*H*NC*N*N fp32, only when a gradient is wanted
        h = state.new_empty(B, H, NC, N, N) if store else new_state
        mask_arg = mask.to(torch.int8).contiguous() if mask is not None else new_state  # unread without HAS_MASK
        maps = intra_chunk_maps(r, w, k, v, a, b, mask_arg, mask is not None, launch)
        state_pass(state, maps, y, new_state, h, store, launch)
        if store:
            ctx.save_for_backward(r, w, k, v, a, b, mask_arg, h)
            ctx.has_mask, ctx.chunk_size = mask is not None, launch.chunk
        return y, new_state

    @staticmethod
    def backward(ctx, dy, dstate):  # noqa: ANN001, ANN205
        r, w, k, v, a, b, mask_arg, h = ctx.saved_tensors
        B, T, H, N = r.shape
        BK, BV, NV = _blocks(N)
        partial = lambda: r.new_empty(NV, B, T, H, N, dtype=torch.float32)  # noqa: E731
        dr, dw, dk, da, db = partial(), partial(), partial(), partial(), partial()
        dv = torch.empty_like(v, dtype=torch.float32)
        dstate = dstate.float().contiguous()  # autograd may hand in expanded or strided gradients
        dstate0 = torch.empty_like(dstate)
        _chunk_bwd_kernel[(B * H, NV)](
            r, w, k, v, a, b, mask_arg, h, dy.contiguous(), dstate,
            dr, dw, dk, dv, da, db, dstate0,
            T, h.shape[2], B, H=H, N=N, C=ctx.chunk_size, LOG2C=ctx.chunk_size.bit_length() - 1, BK=BK, BV=BV,
            HAS_MASK=ctx.has_mask, PREC=DOT, num_warps=BWD_WARPS, maxnreg=MAX_REGISTERS,
        )
        # glue: sum the per-value-block partials of the key-side gradients, back to the inputs' dtypes
        dr, dw, dk, da, db = (g.sum(0).to(x.dtype) for g, x in ((dr, r), (dw, w), (dk, k), (da, a), (db, b)))
        return dr, dw, dk, dv.to(v.dtype), da, db, dstate0, None, None


def wkv7_triton_chunk(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor,
    mask: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Same contract as `kernels.wkv7`, differentiable in r, w, k, v, a, b and state.

    chunk_size: a power of two from 16 to 64 (tl.dot's minimum tile; beyond 64, 1/G_s can overflow fp32), at most 32
    when gradients are needed; None takes `launch_for`'s, tuned for this many batch-heads and dtype.
    """
    if chunk_size not in (None, 16, 32, 64):
        raise ValueError(f"wkv7_triton_chunk: chunk_size must be 16, 32 or 64, found {chunk_size}")
    return _WKV7Chunk.apply(r, w, k, v, a, b, state, mask, chunk_size)
