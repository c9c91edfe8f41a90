"""`app-load`'s arithmetic: one record per request, error kinds, percentiles and the per-endpoint summary.

Pure functions on plain data, so the summary can be checked on fixed numbers without an app or a network.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

# the app's endpoints the visitors ask: endpoint -> the parameters each request names (checked against the app's
# API before a run) and whether it streams
ENDPOINTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "/chat": (("image", "message", "history", "temperature", "top_p", "max_new_tokens"), True),
    "/transcribe": (("audio",), True),
    "/forecast": (("path", "target_col", "horizon", "timestamp_col"), False),
    "/efficiency": (("shape", "max_context", "step"), True),
}
QUEUE_FULL = "queue full"
ERROR_WORDS = 6  # enough words to tell two refusals apart, few enough that one kind gathers its variants


@dataclass(frozen=True)
class Request:
    """One request a visitor made: when it started (seconds since the visitors started), how long until its answer
    or its error, and how long until its first streamed update (None where none came before the end)."""

    endpoint: str  # "/chat", ...
    variant: str  # what the visitor asked for, e.g. "follow-up" or "long recording"
    visitor: int
    start_s: float
    latency_s: float
    first_update_s: float | None = None
    error: str | None = None  # the error's kind (`error_kind`); None for a request that was served
    first_text_s: float | None = None  # until the first update with answer text (a chat's first token, ...)
    tokens: int | None = None  # tokens generated (chat, transcription)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EndpointSummary:
    requests: int
    served: int
    queue_full: int  # refused because the server's queue was full: a capacity figure, not a bug
    errors: dict[str, int] = field(default_factory=dict)  # every other failure, by kind
    latency_p50_s: float | None = None  # of the served requests
    latency_p95_s: float | None = None
    first_update_p50_s: float | None = None  # streaming endpoints only
    first_text_p50_s: float | None = None  # chat and transcription: the time to the first token as a visitor sees it
    first_text_p95_s: float | None = None
    tokens: int | None = None  # generated over the served requests

    def to_dict(self) -> dict:
        return asdict(self)


def error_kind(error: BaseException) -> str:
    """What went wrong, in a few words that requests failing the same way share: the exception's class and the first
    words of its message's first line (file names and figures that follow vary from one request to the next);
    `QUEUE_FULL` for a refusal because the server's queue is full."""
    text = str(error).strip()
    if type(error).__name__ == "QueueError" or "queue is full" in text.lower():
        return QUEUE_FULL
    first = re.split(r"[:\n]", text, maxsplit=1)[0] if text else ""
    words = " ".join(first.split()[:ERROR_WORDS]).rstrip(".,;")
    return f"{type(error).__name__}: {words}" if words else type(error).__name__


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between the closest ranks (numpy's default); None for no
    values, so that an endpoint nobody reached shows as missing rather than zero."""
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(requests: Sequence[Request], endpoints: Sequence[str], streaming: Iterable[str]) -> dict[str, dict]:
    """Per endpoint (every one of `endpoints`, in that order, even one nobody reached): requests, served, errors by
    kind, queue-full refusals, p50 and p95 latency of the served requests and, for the `streaming` endpoints, p50 time
    to the first streamed update."""
    streaming = set(streaming)
    out: dict[str, dict] = {}
    for endpoint in endpoints:
        mine = [r for r in requests if r.endpoint == endpoint]
        served = [r for r in mine if r.error is None]
        kinds = Counter(r.error for r in mine if r.error is not None)
        queue_full = kinds.pop(QUEUE_FULL, 0)
        latencies = [r.latency_s for r in served]
        firsts = [r.first_update_s for r in served if r.first_update_s is not None]
        texts = [r.first_text_s for r in served if r.first_text_s is not None]
        counted = [r.tokens for r in served if r.tokens is not None]
        out[endpoint] = EndpointSummary(
            requests=len(mine),
            served=len(served),
            queue_full=queue_full,
            errors=dict(kinds.most_common()),
            latency_p50_s=percentile(latencies, 50),
            latency_p95_s=percentile(latencies, 95),
            first_update_p50_s=percentile(firsts, 50) if endpoint in streaming else None,
            first_text_p50_s=percentile(texts, 50),
            first_text_p95_s=percentile(texts, 95),
            tokens=sum(counted) if counted else None,
        ).to_dict()
    return out
