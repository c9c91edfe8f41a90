"""One growing context, measured as it grows: RWKV-7 carries its state, a Transformer extends its KV cache.

Unlike `compare`, which prefills every context from scratch, each point here costs only `step` more prompt
tokens and a few decode steps, so a UI can plot latency and memory point by point as they are measured.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from modrwkv.bench.machine import memory_available
from modrwkv.bench.measurement import WARMUP_PROMPT, WARMUP_STEPS
from modrwkv.bench.report import human_bytes
from modrwkv.bench.rwkv_runner import RWKVRunner, blinkdl_weights
from modrwkv.bench.shapes import HIDDEN_SHAPES, is_known, shape_config, shape_names
from modrwkv.bench.timing import timed
from modrwkv.bench.transformer_runner import (
    TransformerRunner,
    baseline_shape,
    cache_bytes,
    kv_cache_bytes,
    load_transformer,
)
from modrwkv.generation.streaming import prefill
from modrwkv.rwkv7.loading import DTYPES, compute_dtype, default_cpu_dtype, describe_dtype, dtype_name
from modrwkv.rwkv7.model import RWKV7

DEVICE = "cpu"  # the panel measures the machine that serves it


def live_shapes() -> list[str]:
    """Every shape `growing_context` accepts, the small test shape included (it makes a quick demo too)."""
    return [*shape_names(), *HIDDEN_SHAPES]


def peak_bytes(shape: str, max_context: int) -> int:
    """An upper estimate of the memory a `growing_context` run holds at `max_context`: the RWKV weights twice (drawn
    in fp32, then converted), the Transformer's in fp32 and its KV cache in fp32."""
    config = shape_config(shape)
    rwkv = 12 * config.n_layer * config.n_embd**2 + 2 * config.vocab_size * config.n_embd  # 4x FFN, LoRAs aside
    t = baseline_shape(shape)
    kv_width = t.kv_heads * t.head_dim
    transformer = t.layers * (2 * t.hidden**2 + 2 * t.hidden * kv_width + 3 * t.hidden * t.intermediate)
    transformer += 2 * t.vocab * t.hidden
    return 4 * (2 * rwkv + transformer) + kv_cache_bytes(t, max_context, 1, 4)


def shapes_that_fit(max_context: int, memory_bytes: int | None = None) -> list[str]:
    """The shapes of `live_shapes` whose run up to `max_context` fits in `memory_bytes` (default: this machine's
    available memory)."""
    memory_bytes = memory_available() if memory_bytes is None else memory_bytes
    return [s for s in live_shapes() if peak_bytes(s, max_context) <= memory_bytes]


def check_fits(shape: str, max_context: int) -> None:
    """Refuse, with what it needs and what is free, a run that would not fit in this machine's available memory."""
    needed, free = peak_bytes(shape, max_context), memory_available()
    if needed > free:
        raise MemoryError(
            f"RWKV-7 {shape} and its Transformer need about {human_bytes(needed)} up to {max_context:,} tokens, more "
            f"than this server has free ({human_bytes(free)}): choose a smaller shape or a shorter context."
        )


@dataclass(frozen=True)
class LivePoint:
    context: int  # tokens in each model's context when the decode steps were timed
    rwkv_ms_per_token: float
    transformer_ms_per_token: float
    rwkv_state_bytes: int
    transformer_cache_bytes: int

    def summary(self) -> str:
        """One Markdown line: the Transformer's decode latency and memory as multiples of RWKV-7's."""
        latency = self.transformer_ms_per_token / self.rwkv_ms_per_token
        memory = self.transformer_cache_bytes / self.rwkv_state_bytes
        return (
            f"context **{self.context:,}** tokens · Transformer/RWKV decode latency **{latency:.1f}x** "
            f"({self.transformer_ms_per_token:.1f} vs {self.rwkv_ms_per_token:.1f} ms/token) · "
            f"memory **{memory:.1f}x** "
            f"({human_bytes(self.transformer_cache_bytes)} KV cache vs {human_bytes(self.rwkv_state_bytes)} state)"
        )


class _GrowingPair:
    """Both models with their one context each: the RWKV state and the Transformer's DynamicCache."""

    def __init__(self, shape: str, dtype: str, decode_tokens: int):
        from transformers import DynamicCache

        self.decode_tokens = decode_tokens
        self.rwkv = RWKVRunner(RWKV7.from_state_dict(blinkdl_weights(None, shape), dtype=dtype, device=DEVICE), dtype)
        # a Transformer has no weight-only path here: it computes in the format's compute dtype, as `compare` does
        compute = compute_dtype(dtype, DEVICE)
        tmodel, _ = load_transformer(baseline_shape(shape), compute, DEVICE)
        self.transformer = TransformerRunner(tmodel, dtype_name(compute))
        self._warm_up()
        self.context = 0
        self.state = self.rwkv.model.new_state(1)
        self.cache = DynamicCache(config=tmodel.config)

    @torch.inference_mode()
    def _warm_up(self) -> None:
        # untimed runs on throw-away contexts, so the first point does not pay for allocator and thread-pool start-up
        logits, state = self.rwkv.prefill_tokens(self.rwkv.random_tokens(1, WARMUP_PROMPT))
        self.rwkv.decode(logits, state, WARMUP_STEPS)
        logits, cache = self.transformer.prefill_tokens(self.transformer.random_tokens(1, WARMUP_PROMPT))
        self.transformer.decode(logits, cache, WARMUP_STEPS)

    @torch.inference_mode()
    def advance(self, tokens: int) -> LivePoint:
        """Feed `tokens` more prompt tokens to both contexts, then time decode steps at the new length."""
        rwkv_logits, self.state = prefill(self.rwkv.model, list(self.rwkv.random_tokens(1, tokens)), [self.state])
        transformer_logits = self.transformer.step(self.transformer.random_tokens(1, tokens), self.cache)
        self.context += tokens
        # the model returns a new state and never changes the one it is given: decoding leaves the context as is
        rwkv_s, _ = timed(lambda: self.rwkv.decode(rwkv_logits, self.state, self.decode_tokens), DEVICE)
        transformer_s, _ = timed(
            lambda: self.transformer.decode(transformer_logits, self.cache, self.decode_tokens), DEVICE
        )
        # the decoded tokens are not part of the prompt: drop them so the context grows by prompt tokens only
        self.cache.crop(self.context - self.cache.get_seq_length())
        return LivePoint(
            context=self.context,
            rwkv_ms_per_token=1e3 * rwkv_s / self.decode_tokens,
            transformer_ms_per_token=1e3 * transformer_s / self.decode_tokens,
            rwkv_state_bytes=self.state.nbytes,
            transformer_cache_bytes=cache_bytes(self.cache),
        )


def formats(dtype: str | None = None) -> str:
    """The formats the two models run in, e.g. "RWKV-7 in fp16 (fp16 matrices, fp32 math), the Transformer in fp32"."""
    dtype = dtype or default_cpu_dtype()
    return (f"RWKV-7 in {dtype} ({describe_dtype(dtype, DEVICE)}), "
            f"the Transformer in {dtype_name(compute_dtype(dtype, DEVICE))}")


def growing_context(
    shape: str, max_context: int, step: int, dtype: str | None = None, decode_tokens: int = 4
) -> Iterator[LivePoint]:
    """Points at contexts step, 2*step, ... up to max_context (the last step is shorter when step does not divide it).

    RWKV-7 of a named shape (random weights) and the Transformer `compare` pits against it (SmolLM2-135M, or a
    tiny Llama for "tiny") each grow one context; nothing is re-run. Arguments are checked here, before any model
    loads; the models load on the first `next()`. Closing the iterator between points stops all work.
    dtype: a weight format of `modrwkv.rwkv7.model.DTYPES`, default `default_cpu_dtype()`.
    """
    if not is_known(shape):
        raise ValueError(f"unknown shape '{shape}'; choose from {', '.join(live_shapes())}")
    if step < 1:
        raise ValueError(f"step must be at least 1 token, got {step}")
    if max_context < step:
        raise ValueError(f"max_context ({max_context}) must be at least step ({step})")
    if decode_tokens < 1:
        raise ValueError(f"decode_tokens must be at least 1, got {decode_tokens}")
    dtype = dtype or default_cpu_dtype()
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype '{dtype}'; choose from {', '.join(DTYPES)}")
    return _grow(shape, max_context, step, dtype, decode_tokens)


def _grow(shape: str, max_context: int, step: int, dtype: str, decode_tokens: int) -> Iterator[LivePoint]:
    # inference mode is entered per point inside `advance`, never across a yield, where it would leak to the consumer
    pair = _GrowingPair(shape, dtype, decode_tokens)
    while pair.context < max_context:
        yield pair.advance(min(step, max_context - pair.context))
