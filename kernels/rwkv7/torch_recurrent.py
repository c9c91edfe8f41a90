"""RWKV-7 WKV recurrence token by token: the exact reference order, and the cheapest form for decode and short inputs.

The state is (value i, key j): S_t = S_{t-1} diag(decay_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T, then y_t = S_t r_t.
All state arithmetic is fp32 whatever the input dtype, because the state integrates over the whole conversation.
"""
from __future__ import annotations

import torch

# decay = exp(-DECAY_SCALE * sigmoid(w)) lies in [exp(-DECAY_SCALE), 1): never fast enough to underflow a chunk.
DECAY_SCALE = 0.6065306597126334


def log_decay(w: torch.Tensor) -> torch.Tensor:
    """fp32 log of the per-channel decay; the chunked path sums these, so they are never rounded through a decay."""
    return -DECAY_SCALE * torch.sigmoid(w.float())


def masked_inputs(
    mask: torch.Tensor | None, log_w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """fp32 log-decay, k, v, b with masked steps made identities: decay 1 and nothing written.

    masked_fill rather than a multiply, so garbage (even NaN) in padding cannot leak into the state.
    """
    k, v, b = k.float(), v.float(), b.float()
    if mask is None:
        return log_w, k, v, b
    off = ~mask[:, :, None, None]
    return log_w.masked_fill(off, 0.0), k.masked_fill(off, 0.0), v.masked_fill(off, 0.0), b.masked_fill(off, 0.0)


def _step(
    S: torch.Tensor, decay: torch.Tensor, a: torch.Tensor, b: torch.Tensor, v: torch.Tensor, k: torch.Tensor,
    r: torch.Tensor, out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One token for a batch of heads: S [BH, N, N], the rest [BH, N]. Returns (new S, y [BH, N]).

    Out of place (S is kept for autograd), into `out` when given; the in-place adds only touch the fresh product.
    """
    # matrix-vector products as row-vector @ S^T: on CPU that bmm is much faster than S @ column-vector
    sa = torch.bmm(a.unsqueeze(1), S.mT).mT
    S = torch.mul(S, decay.unsqueeze(1), out=out) if out is not None else S * decay.unsqueeze(1)
    S = S.addcmul_(sa, b.unsqueeze(1)).addcmul_(v.unsqueeze(-1), k.unsqueeze(1))
    return S, torch.bmm(r.unsqueeze(1), S.mT).squeeze(1)


def wkv7_step(
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
    """Decode: one token ([B, 1, H, N] inputs); only views of the inputs, no transposes or stacking.

    out: a contiguous [B, H, N, N] fp32 tensor to write the new state into (no autograd)."""
    B, _, H, N = r.shape
    log_w, k, v, b = masked_inputs(mask, log_decay(w), k, v, b)
    flat = lambda x: x.float().reshape(B * H, N)  # noqa: E731  (T == 1: [B, 1, H, N] is already head-major)
    dest = out.view(B * H, N, N) if out is not None else None
    S, y = _step(state.reshape(B * H, N, N), flat(log_w).exp(), flat(a), flat(b), flat(v), flat(k), flat(r), dest)
    return y.view(B, 1, H, N).to(r.dtype), S.view(B, H, N, N)


def wkv7_recurrent(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    state: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Short inputs: a Python loop over tokens, each step batched over B and H."""
    B, T, H, N = r.shape
    log_w, k, v, b = masked_inputs(mask, log_decay(w), k, v, b)
    # token-major so each step reads one contiguous [B*H, N] slice
    seq = lambda x: x.float().transpose(0, 1).reshape(T, B * H, N)  # noqa: E731
    decay, a_, b_, v_, k_, r_ = seq(log_w.exp()), seq(a), seq(b), seq(v), seq(k), seq(r)
    S = state.reshape(B * H, N, N)
    ys = []
    for t in range(T):
        S, y = _step(S, decay[t], a_[t], b_[t], v_[t], k_[t], r_[t])
        ys.append(y)
    y = torch.stack(ys).view(T, B, H, N).transpose(0, 1)
    return y.to(r.dtype, memory_format=torch.contiguous_format), S.view(B, H, N, N)
