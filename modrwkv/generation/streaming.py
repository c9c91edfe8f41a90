"""Streaming generation for one or many sequences: batched prefill, then sample and decode token by token.

Every sampled token is fed to the model at the next step; the last one of a sequence stays `pending`
(not yet in its state), so continuing a sequence later costs no wasted forward pass and stays exact.

A long prompt is fed in chunks, and the stream yields between them (empty text: nothing new yet), so a consumer
that stops the stream there (a stop button, a client gone) ends the work after the current chunk instead of after
the whole prompt.
"""
from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from time import perf_counter

import torch

from modrwkv.generation.cuda_graph import decode_step
from modrwkv.generation.sampling import GenerationConfig, Sampler
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.state import RWKVState
from modrwkv.tokenizer import RWKVTokenizer, StreamDecoder

PREFILL_CHUNK = 4096  # bounds activation memory for very long prompts; the state carries across chunks
# On a CPU a chunk holds at most this many positions over the batch: a batch of long prompts runs faster in smaller
# chunks, whose activations stay in cache instead of streaming through memory at each element-wise step; a single
# prompt gains nothing from smaller chunks.
CPU_CHUNK_POSITIONS = 2048


Prompt = Sequence[int] | torch.Tensor  # token ids, or input embeddings [T, C] (modality tokens + text)


def prefill(
    model: RWKV7,
    prompts: Sequence[Prompt],
    states: Sequence[RWKVState | None] | None = None,
    chunk_len: int = PREFILL_CHUNK,
) -> tuple[torch.Tensor, RWKVState]:
    """Run prompts of any lengths (>= 1 position each) as one padded batch: last logits [B, V] and the batch state."""
    steps = prefill_steps(model, prompts, states, chunk_len)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


@torch.inference_mode()
def prefill_steps(
    model: RWKV7,
    prompts: Sequence[Prompt],
    states: Sequence[RWKVState | None] | None = None,
    chunk_len: int = PREFILL_CHUNK,
) -> Generator[int, None, tuple[torch.Tensor, RWKVState]]:
    """`prefill`, one chunk at a time: yields the positions fed so far before each chunk but the first (where a
    consumer may stop: the state carries across chunks, so nothing is lost but the unfed rest), and returns
    (last logits [B, V], batch state)."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    B = len(prompts)
    states = list(states) if states is not None else [None] * B
    if len(states) != B:
        raise ValueError(f"{B} prompts but {len(states)} states")
    state = RWKVState.cat([s if s is not None else model.new_state(1) for s in states])
    lens = [len(p) for p in prompts]
    if model.device.type == "cpu":
        chunk_len = min(chunk_len, max(1, CPU_CHUNK_POSITIONS // B))
    last = torch.empty(B, model.config.vocab_size, dtype=model.dtype, device=model.device)
    for start in range(0, max(lens), chunk_len):
        if start:
            yield start
        rows = [i for i in range(B) if lens[i] > start]
        seg = [min(lens[i] - start, chunk_len) for i in rows]
        x = torch.zeros(len(rows), max(seg), model.config.n_embd, dtype=model.dtype, device=model.device)
        for j, i in enumerate(rows):
            x[j, : seg[j]] = _embed(model, prompts[i][start : start + seg[j]])
        part = state if len(rows) == B else state.select(rows)
        logits, part = model.forward_embeds(x, part, lengths=torch.tensor(seg), last_only=True)
        state.put(rows, part)
        for j, i in enumerate(rows):
            if lens[i] <= start + chunk_len:
                last[i] = logits[j, 0]
    return last, state


def _embed(model: RWKV7, piece: Prompt) -> torch.Tensor:
    if isinstance(piece, torch.Tensor) and piece.is_floating_point():
        return piece
    return model.emb(torch.as_tensor(piece, dtype=torch.long, device=model.device))


@dataclass
class GenerationStats:
    prompt_tokens: int = 0  # tokens processed for this request (on a follow-up turn: the new ones only)
    generated_tokens: int = 0
    time_to_first_token: float = 0.0  # seconds from the request to the first sampled token
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    state_bytes: int = 0  # RNN state of this sequence: constant whatever the length
    stop_reason: str = ""  # "stop" (stop string), "eos" (stop token), "length", "cancelled"

    @property
    def prefill_tokens_per_second(self) -> float:
        return self.prompt_tokens / self.prefill_seconds if self.prefill_seconds > 0 else 0.0

    @property
    def decode_tokens_per_second(self) -> float:
        return self.generated_tokens / self.decode_seconds if self.decode_seconds > 0 else 0.0


class AnswerStart:
    """Drops the whitespace a model writes before an answer's first visible text (e.g. after "Assistant:")."""

    def __init__(self) -> None:
        self.started = False

    def __call__(self, text: str) -> str:
        if not self.started:
            text = text.lstrip()
            self.started = bool(text)
        return text


class _StopScanner:
    """Holds back text that may be the start of a stop string, so a stop string is never streamed."""

    def __init__(self, stops: Sequence[str]):
        self.stops, self.buffer = tuple(stops), ""

    def push(self, text: str) -> tuple[str, bool]:
        self.buffer += text
        hits = [i for s in self.stops if (i := self.buffer.find(s)) >= 0]
        if hits:
            out, self.buffer = self.buffer[: min(hits)], ""
            return out, True
        keep = max((k for s in self.stops for k in range(1, len(s)) if self.buffer.endswith(s[:k])), default=0)
        out, self.buffer = self.buffer[: len(self.buffer) - keep], self.buffer[len(self.buffer) - keep :]
        return out, False

    def flush(self) -> str:
        out, self.buffer = self.buffer, ""
        return out


@dataclass
class SequenceResult:
    """One sequence's continuation; complete once the generation that makes it has finished."""

    tokens: list[int] = field(default_factory=list)  # every sampled token, a stop token included
    text: str = ""  # decoded text, cut before any stop string
    state: RWKVState | None = None  # after the prompt and all generated tokens but `pending`
    pending: list[int] = field(default_factory=list)  # generated but not yet fed to `state`
    stats: GenerationStats = field(default_factory=GenerationStats)
    done: bool = False


class SequenceText:
    """One sequence's sampled tokens turned into streamed text, stopping at its stop tokens and strings."""

    def __init__(self, tokenizer: RWKVTokenizer, config: GenerationConfig, result: SequenceResult):
        self.decoder = StreamDecoder(tokenizer)
        self.scanner = _StopScanner(config.stop)
        self.config, self.result = config, result

    def consume(self, token: int) -> tuple[str, str]:
        """The text this token completes, and why the sequence stops ('' while it goes on)."""
        self.result.tokens.append(token)
        self.result.stats.generated_tokens += 1
        if token in self.config.stop_tokens:
            return self.finish_text(), "eos"
        text, stopped = self.scanner.push(self.decoder.feed(token))
        if stopped:
            self.result.text += text
            return text, "stop"
        self.result.text += text
        return text, ""

    def finish_text(self) -> str:
        text, _ = self.scanner.push(self.decoder.flush())
        text += self.scanner.flush()
        self.result.text += text
        return text


def _between_chunks(
    steps: Generator[int, None, tuple[torch.Tensor, RWKVState]], batch: int
) -> Generator[list[str], None, tuple[torch.Tensor, RWKVState]]:
    """The prefill's pauses as steps without text (one '' per sequence); returns the prefill's result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        yield [""] * batch


class BatchGeneration:
    """Continues several independent sequences at once. Iterate: each step yields the new text of every
    sequence ('' when it has none); `results` holds each one's text, tokens, state and stats. A long prompt
    yields steps without text between its chunks.

    Finished sequences leave the batch, so the rest run at their own batch size. Closing the iterator
    early (a stop button) keeps every sequence's state consistent, marked "cancelled"; closed during the
    prompt, no sequence is done (nothing was generated, and the states passed in are unchanged).
    """

    def __init__(
        self,
        model: RWKV7,
        tokenizer: RWKVTokenizer,
        prompts: Sequence[Prompt],
        states: Sequence[RWKVState | None] | None = None,
        config: GenerationConfig = GenerationConfig(),
    ):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.prompts = [p if isinstance(p, torch.Tensor) else list(p) for p in prompts]
        self.states = states
        self.results = [SequenceResult() for _ in prompts]
        for r, p in zip(self.results, self.prompts):
            r.stats.prompt_tokens = len(p)

    def __iter__(self) -> Iterator[list[str]]:
        cfg, model = self.config, self.model
        started = perf_counter()
        logits, state = yield from _between_chunks(prefill_steps(model, self.prompts, self.states), len(self.prompts))
        prefill_end = perf_counter()
        rows = [SequenceText(self.tokenizer, cfg, r) for r in self.results]
        per_row_bytes = state.nbytes // len(rows)
        for r in self.results:
            r.stats.prefill_seconds, r.stats.state_bytes = prefill_end - started, per_row_bytes
        sampler = Sampler(cfg, len(rows), model.config.vocab_size, model.device)
        active = list(range(len(rows)))  # position in the running batch -> sequence index
        tokens = None
        try:
            for step in range(cfg.max_new_tokens):
                tokens = sampler(logits)
                sampler.observe(tokens)
                now = perf_counter()
                deltas, keep = [""] * len(rows), []
                for pos, i in enumerate(active):
                    text, reason = rows[i].consume(int(tokens[pos]))
                    if not reason and step == cfg.max_new_tokens - 1:
                        text, reason = text + rows[i].finish_text(), "length"
                    deltas[i] = text
                    if step == 0:
                        self.results[i].stats.time_to_first_token = now - started
                    self.results[i].stats.decode_seconds = now - prefill_end  # live; final when it finishes
                    if reason:
                        self._finish(i, state.select([pos]), [int(tokens[pos])], reason, prefill_end)
                    else:
                        keep.append(pos)
                yield deltas
                if not keep:
                    return
                if len(keep) < len(active):
                    state, tokens = state.select(keep), tokens[keep]
                    sampler.keep(keep)
                    active = [active[p] for p in keep]
                with torch.inference_mode():
                    logits, state = decode_step(model, tokens, state)
                tokens = None
        finally:
            for pos, i in enumerate(active):
                if not self.results[i].done:  # closed early: what was generated stays consistent
                    rows[i].finish_text()
                    pending = [int(tokens[pos])] if tokens is not None else []
                    self._finish(i, state.select([pos]), pending, "cancelled", prefill_end)

    def _finish(self, i: int, state: RWKVState, pending: list[int], reason: str, decode_start: float) -> None:
        r = self.results[i]
        r.state, r.pending, r.done = state, pending, True
        r.stats.stop_reason = reason
        r.stats.decode_seconds = perf_counter() - decode_start


class Generation:
    """One sequence's streamed continuation: iterate for text pieces; then read `text`, `state`, `stats`."""

    def __init__(
        self,
        model: RWKV7,
        tokenizer: RWKVTokenizer,
        prompt: Prompt,
        state: RWKVState | None = None,
        config: GenerationConfig = GenerationConfig(),
    ):
        self._batch = BatchGeneration(model, tokenizer, [prompt], [state], config)
        self.result = self._batch.results[0]

    def __iter__(self) -> Iterator[str]:
        with closing(iter(self._batch)) as steps:  # closing this stream early runs the batch's own cleanup
            for deltas in steps:
                if deltas[0]:
                    yield deltas[0]

    @property
    def text(self) -> str:
        return self.result.text

    @property
    def stats(self) -> GenerationStats:
        return self.result.stats


def generate(
    model: RWKV7,
    tokenizer: RWKVTokenizer,
    prompt: str | Sequence[int],
    state: RWKVState | None = None,
    config: GenerationConfig = GenerationConfig(),
) -> Generation:
    """Stream a continuation of `prompt` (text or token ids), optionally from an existing state."""
    ids = tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
    return Generation(model, tokenizer, ids, state, config)
