"""The WKV-7 recurrence alone, one layer's worth: this project's kernels beside flash-linear-attention's.

Prefill times T tokens from a random state through `kernels.wkv7` (the chunked kernel on CUDA, the torch chunk on CPU)
and through fla's `chunk_rwkv7`; decode times one step through `kernels.wkv7` (the fused recurrent kernel on CUDA) and
fla's `fused_recurrent_rwkv7`. Both run on the same inputs; each fla row also reports how far its output and final
state are from ours (relative RMS), so a speed-up bought by a wrong answer shows.
fla takes the log-decay and a [B, H, K, V] state; the conversion is done once, outside the timed region.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import torch
import torch.nn.functional as F

from kernels import wkv7
from modrwkv.bench.report import columns
from modrwkv.bench.timing import timed

LOG_DECAY_SCALE = -0.6065306597126334
SEED = 0


@dataclass
class KernelRow:
    system: str  # "modrwkv" | "fla"
    dtype: str
    context: int
    batch: int
    prefill_tok_s: float
    decode_step_us: float
    y_rel_rms: float | None  # fla vs modrwkv on the same inputs (prefill output); None for modrwkv itself
    state_rel_rms: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def fla_ops() -> tuple[Callable, Callable] | None:
    """fla's (chunk_rwkv7, fused_recurrent_rwkv7), or None where fla is not installed."""
    try:
        from fla.ops.rwkv7 import chunk_rwkv7, fused_recurrent_rwkv7
    except ImportError:
        return None
    return chunk_rwkv7, fused_recurrent_rwkv7


def rwkv_like_inputs(batch: int, length: int, heads: int, head_size: int, dtype: torch.dtype, device: str):
    """r, w (pre-activation), k, v, a = -kk, b = kk * sigmoid(.), as an RWKV-7 layer makes them, and a random state."""
    g = torch.Generator().manual_seed(SEED)
    shape = (batch, length, heads, head_size)
    randn = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    r, k, v = randn(*shape) * 0.5, randn(*shape) * 0.5, randn(*shape) * 0.5
    w = randn(*shape) * 2
    kk = F.normalize(randn(*shape), dim=-1)
    b = kk * torch.sigmoid(randn(*shape))
    xs = [x.to(device=device, dtype=dtype) for x in (r, w, k, v, -kk, b)]
    return xs, (randn(batch, heads, head_size, head_size) * 0.1).to(device)


def _median_seconds(fn: Callable[[], object], device: str, repeats: int) -> float:
    if device.startswith("cuda"):
        from triton.testing import do_bench  # CUDA events over many calls: right for microsecond kernels

        return do_bench(fn, warmup=25, rep=100, return_mode="median") / 1e3
    fn()  # warm-up
    return statistics.median(timed(fn, device)[0] for _ in range(repeats))


def _rel_rms(x: torch.Tensor, ref: torch.Tensor) -> float:
    x, ref = x.double(), ref.double()
    return ((x - ref).pow(2).mean().sqrt() / ref.pow(2).mean().sqrt()).item()


@torch.inference_mode()
def measure(
    contexts: Sequence[int], batches: Sequence[int], heads: int, head_size: int, dtype: torch.dtype, device: str,
    repeats: int = 3,
) -> tuple[list[KernelRow], list[str]]:
    """Rows for modrwkv and (on CUDA, when installed) fla at every context and batch, and notes."""
    fla = fla_ops() if device.startswith("cuda") else None
    notes = []
    if fla is None:
        notes.append("fla: skipped, " + ("flash-linear-attention is not installed" if device.startswith("cuda")
                                          else "its kernels need CUDA"))
    name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    rows = []
    for context in contexts:
        for batch in batches:
            (r, w, k, v, a, b), state = rwkv_like_inputs(batch, context, heads, head_size, dtype, device)
            step = [x[:, :1].contiguous() for x in (r, w, k, v, a, b)]
            y, S = wkv7(r, w, k, v, a, b, state)
            prefill_s = _median_seconds(partial(wkv7, r, w, k, v, a, b, state), device, repeats)
            decode_s = _median_seconds(partial(wkv7, *step, state), device, max(repeats, 20))
            rows.append(
                KernelRow("modrwkv", name, context, batch, batch * context / prefill_s, decode_s * 1e6, None, None)
            )
            if fla is None:
                continue
            chunk, recurrent = fla
            log_w = (LOG_DECAY_SCALE * torch.sigmoid(w.float())).to(dtype)
            step_log_w = log_w[:, :1].contiguous()
            h0 = state.transpose(-1, -2).contiguous()  # fla: [B, H, K, V]
            y_fla, S_fla = chunk(r, log_w, k, v, a, b, scale=1.0, initial_state=h0, output_final_state=True)
            prefill_s = _median_seconds(
                partial(chunk, r, log_w, k, v, a, b, scale=1.0, initial_state=h0, output_final_state=True),
                device, repeats,
            )
            decode_s = _median_seconds(
                partial(
                    recurrent, step[0], step_log_w, *step[2:], scale=1.0, initial_state=h0, output_final_state=True
                ),
                device, max(repeats, 20),
            )
            rows.append(KernelRow(
                "fla", name, context, batch, batch * context / prefill_s, decode_s * 1e6,
                _rel_rms(y_fla, y), _rel_rms(S_fla.transpose(-1, -2), S),
            ))
    return rows, notes


def table(rows: Sequence[KernelRow]) -> str:
    return columns(*cells(rows))


def cells(rows: Sequence[KernelRow]) -> tuple[list[str], list[list[str]]]:
    """The header and the formatted cells of `table`, for the plain-text and the Markdown table alike."""
    cols = ["system", "dtype", "context", "batch", "prefill tok/s", "decode us/step", "y vs ours", "state vs ours"]
    fmt_err = lambda e: "-" if e is None else f"{e:.1e}"  # noqa: E731
    body = [
        [r.system, r.dtype, str(r.context), str(r.batch), f"{r.prefill_tok_s:,.0f}", f"{r.decode_step_us:,.1f}",
         fmt_err(r.y_rel_rms), fmt_err(r.state_rel_rms)]
        for r in rows
    ]
    return cols, body
