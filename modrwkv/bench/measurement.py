"""One benchmark row, the common output of every runner."""
from __future__ import annotations

from dataclasses import asdict, dataclass

WARMUP_PROMPT = 16  # tokens of an untimed prefill before timing (JIT, allocator and thread-pool warm-up)
WARMUP_STEPS = 2  # untimed decode steps before timing


@dataclass
class Measurement:
    system: str  # "modrwkv" | "rwkv-pkg" | "transformer"
    dtype: str
    context: int
    batch: int
    prefill_tok_s: float | None  # prompt tokens/s over the whole batch; None when not measured
    decode_tok_s: float | None  # generated tokens/s over the whole batch, after a prompt of `context` tokens
    memory_bytes: int  # RWKV state or KV cache for the whole batch at `context`

    @property
    def prefill_ms_per_token(self) -> float | None:
        """Milliseconds per prompt token of one sequence (what a user of a batched server waits)."""
        return 1e3 * self.batch / self.prefill_tok_s if self.prefill_tok_s else None

    @property
    def decode_ms_per_token(self) -> float | None:
        """Milliseconds per decode step: the time between two tokens of one sequence."""
        return 1e3 * self.batch / self.decode_tok_s if self.decode_tok_s else None

    def to_dict(self) -> dict:
        return asdict(self)


def fastest(a: Measurement, b: Measurement) -> Measurement:
    """One cell measured twice: the higher prefill and decode rates, each the run least disturbed by the machine."""
    best = lambda x, y: y if x is None else x if y is None else max(x, y)  # noqa: E731
    return Measurement(a.system, a.dtype, a.context, a.batch, best(a.prefill_tok_s, b.prefill_tok_s),
                       best(a.decode_tok_s, b.decode_tok_s), a.memory_bytes)
