"""Continuous batching for RWKV-7: many conversations advance together, one token each per batched step.

A conversation's whole memory is its fixed-size state, so joining a running batch is a concatenation and leaving it a
row selection: no paging, no padding to the longest history. Each step of the worker thread

1. feeds the next chunk of waiting prompts (at most `step_tokens` positions over all of them, so one long prompt
   does not stall the others' tokens for seconds), and a prompt that is fully fed samples its first token;
2. feeds every decoding conversation its last sampled token in one batched forward pass and samples the next one,
   each with its own `GenerationConfig` (sampling, penalties, stop strings and tokens, length).

A finished or cancelled conversation leaves at once: its `SequenceResult` holds the state and pending token exactly
as `BatchGeneration` leaves them, so a session continues it the same way.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import perf_counter

import torch

from modrwkv.generation.cuda_graph import decode_step
from modrwkv.generation.sampling import GenerationConfig, Sampler
from modrwkv.generation.streaming import Prompt, SequenceResult, SequenceText, prefill
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.state import RWKVState
from modrwkv.serving.worker import Worker
from modrwkv.tokenizer import RWKVTokenizer

_END = object()  # the last item of a stream's queue
# a stream yields '' after this long without text (waiting for a place, a long prompt): its consumer's chance to stop
HEARTBEAT_SECONDS = 0.25


class SchedulerClosed(RuntimeError):
    """The scheduler was closed before the request could be served."""


@dataclass(eq=False)
class _Request:
    prompt: Prompt
    state: RWKVState | None  # the state the prompt continues (None: a new conversation); never modified
    config: GenerationConfig
    text: SequenceText
    sampler: Sampler
    result: SequenceResult
    out: queue.Queue = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=perf_counter)
    fed: int = 0  # prompt positions in `partial` so far
    partial: RWKVState | None = None  # the state while the prompt is fed chunk by chunk
    admitted: float = 0.0
    prefill_end: float = 0.0
    token: int = -1  # the last sampled token, not yet fed (while decoding)
    ahead: int | None = None  # requests waiting before this one, as of the last step; None once in the batch
    background: bool = False  # asked ahead of need: takes a place only when no other request waits for one


class Stream:
    """One request's continuation as the scheduler produces it: iterate for text pieces ('' while there is none for
    HEARTBEAT_SECONDS); `result` holds text, tokens, state and stats once the iteration ends. Stopping the iteration
    early (or `cancel`) cancels the request; cancelled before its first token, `result.done` stays False and the
    given state is untouched."""

    def __init__(self, request: _Request):
        self._request = request

    @property
    def result(self) -> SequenceResult:
        return self._request.result

    @property
    def ahead(self) -> int | None:
        """Requests waiting for a place before this one (0: next in line), or None once it is in the batch."""
        return self._request.ahead

    def cancel(self) -> None:
        """Leave the batch at the next step (a stop button, a client gone)."""
        self._request.cancelled.set()

    def foreground(self) -> None:
        """Someone waits for this background request's text now: it queues as if submitted in the foreground."""
        self._request.background = False

    def __iter__(self) -> Iterator[str]:
        ended, held = False, None
        try:
            while True:
                if held is not None:
                    item, held = held, None
                else:
                    try:
                        item = self._request.out.get(timeout=HEARTBEAT_SECONDS)
                    except queue.Empty:
                        yield ""
                        continue
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    ended = self._request.out.get() is _END  # a failure is always followed by the end
                    raise item
                # the text that came meanwhile joins this piece: a reader slower than the steps (a busy web server)
                # gets fewer, longer pieces instead of falling further behind
                while held is None:
                    try:
                        more = self._request.out.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(more, str):
                        item += more
                    else:
                        held = more
                yield item
            ended = True
        finally:
            if not ended:  # stopped early: wait until the worker has let go of the request and its state
                self.cancel()
                while held is not _END and self._request.out.get() is not _END:
                    pass


class Scheduler(Worker):
    """Serves requests from many threads on one model in shared batched steps (a worker thread owns the model).

    max_batch: conversations decoding or prefilling at once; the rest wait in order of arrival.
    step_tokens: prompt positions fed per step over all prefilling requests.
    threads: CPU threads per step (`Worker`; None: the process's setting).
    """

    def __init__(self, model: RWKV7, tokenizer: RWKVTokenizer, max_batch: int = 8, step_tokens: int = 256,
                 threads: int | None = None):
        if max_batch < 1 or step_tokens < 1:
            raise ValueError(f"max_batch and step_tokens must be >= 1, got {max_batch} and {step_tokens}")
        super().__init__("modrwkv-scheduler", threads)
        self.model, self.tokenizer = model, tokenizer
        self.max_batch, self.step_tokens = max_batch, step_tokens
        self._inbox: deque[_Request] = deque()
        self._waiting: deque[_Request] = deque()
        self._prefilling: list[_Request] = []
        self._decoding: list[_Request] = []  # in the order of `_state`'s rows
        self._state: RWKVState | None = None
        self._in_batch = 0  # published at the end of each step, for `load`
        self._start()

    def submit(self, prompt: Prompt, state: RWKVState | None = None,
               config: GenerationConfig = GenerationConfig(), background: bool = False) -> Stream:
        """Queue `prompt` (token ids, or input embeddings [T, C]) continuing `state` (one sequence, or None).

        background: asked ahead of need (a recording's later windows, decoded while its reader reads the earlier
        ones): it waits until no foreground request waits for a place, so read-ahead never delays a visitor's first
        words; `Stream.foreground()` once its reader gets to it."""
        prompt = prompt if isinstance(prompt, torch.Tensor) else list(prompt)
        if len(prompt) == 0:
            raise ValueError("a request needs at least one prompt token")
        width = self.model.config.n_embd
        if isinstance(prompt, torch.Tensor) and prompt.is_floating_point() and (
                prompt.dim() != 2 or prompt.shape[1] != width):
            raise ValueError(f"prompt embeddings must be [T, {width}], got {list(prompt.shape)}")
        if state is not None and state.batch_size != 1:
            raise ValueError(f"a request continues one conversation's state, got a batch of {state.batch_size}")
        result = SequenceResult()
        result.stats.prompt_tokens = len(prompt)
        request = _Request(prompt, state, config, SequenceText(self.tokenizer, config, result),
                           Sampler(config, 1, self.model.config.vocab_size, self.model.device), result,
                           background=background)
        with self._wake:
            if self._closed:
                raise SchedulerClosed("the scheduler is closed")
            request.ahead = sum(background or not r.background for r in (*self._waiting, *self._inbox))
            self._inbox.append(request)
            self._wake.notify()
        return Stream(request)

    @property
    def load(self) -> tuple[int, int]:
        """(requests in the batch, requests waiting for a place) as of the last step, for a queue message."""
        with self._wake:
            return self._in_batch, len(self._waiting) + len(self._inbox)


    # the worker ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._inbox and not self._busy():
                    self._wake.wait()
                if self._closed:
                    break
                self._waiting.extend(self._inbox)
                self._inbox.clear()
            try:
                self._step()
            except Exception as e:  # noqa: BLE001 - a failed step fails its requests, the worker keeps serving
                for request in self._prefilling + self._decoding:
                    self._fail(request, e)
                self._prefilling, self._decoding, self._state = [], [], None
            with self._wake:
                self._in_batch = len(self._prefilling) + len(self._decoding)
                for place, request in enumerate(self._line()):
                    request.ahead = place
        for request in [*self._inbox, *self._waiting, *self._prefilling, *self._decoding]:
            self._fail(request, SchedulerClosed("the scheduler closed before this request finished"))

    def _line(self) -> list[_Request]:
        """The waiting requests in the order they take places: the foreground ones, then the background ones, each
        in order of arrival."""
        waiting = list(self._waiting)
        return [r for r in waiting if not r.background] + [r for r in waiting if r.background]

    def _busy(self) -> bool:
        return bool(self._waiting or self._prefilling or self._decoding)

    @torch.inference_mode()
    def _step(self) -> None:
        self._drop_cancelled()
        places = self.max_batch - len(self._prefilling) - len(self._decoding)
        for request in self._line()[:max(0, places)]:
            self._waiting.remove(request)
            request.admitted, request.ahead = perf_counter(), None
            self._prefilling.append(request)
        if self._decoding:
            self._decode()
        if self._prefilling:
            self._prefill_chunk()

    def _drop_cancelled(self) -> None:
        for request in [r for r in self._waiting if r.cancelled.is_set()]:
            self._waiting.remove(request)
            self._end(request)
        for request in [r for r in self._prefilling if r.cancelled.is_set()]:
            self._prefilling.remove(request)  # nothing generated: the given state stays as it was
            self._end(request)
        gone = [pos for pos, r in enumerate(self._decoding) if r.cancelled.is_set()]
        for pos in gone:
            request = self._decoding[pos]
            request.text.finish_text()
            self._finish(request, self._state.select([pos]), "cancelled")
        if gone:
            self._keep([pos for pos in range(len(self._decoding)) if pos not in gone])

    def _prefill_chunk(self) -> None:
        """Feed the next positions of the prompts in arrival order, `step_tokens` in all; a prompt fed to its end
        samples its first token and joins the decoding batch."""
        budget, rows, pieces = self.step_tokens, [], []
        for request in self._prefilling:
            if budget == 0:
                break
            n = min(len(request.prompt) - request.fed, budget)
            rows.append(request)
            pieces.append(request.prompt[request.fed: request.fed + n])
            budget -= n
        logits, state = prefill(self.model, pieces, [r.partial if r.partial is not None else r.state for r in rows])
        joined = []
        for j, (request, piece) in enumerate(zip(rows, pieces)):
            request.fed += len(piece)
            request.partial = state.select([j])
            if request.fed == len(request.prompt):
                self._prefilling.remove(request)
                request.prefill_end = perf_counter()
                request.result.stats.prefill_seconds = request.prefill_end - request.admitted
                request.result.stats.state_bytes = request.partial.nbytes
                if not self._sample(request, logits[j], first=True):
                    joined.append(request)
        if joined:
            states = [r.partial for r in joined]
            self._state = RWKVState.cat(([self._state] if self._decoding else []) + states)
            self._decoding += joined
        for request in joined:
            request.partial = None

    def _decode(self) -> None:
        """One token for every decoding conversation, in one batched step."""
        tokens = torch.tensor([r.token for r in self._decoding], device=self.model.device)
        logits, self._state = decode_step(self.model, tokens, self._state)
        keep = [pos for pos, request in enumerate(self._decoding) if not self._sample(request, logits[pos])]
        if len(keep) < len(self._decoding):
            self._keep(keep)

    def _sample(self, request: _Request, logits: torch.Tensor, first: bool = False) -> bool:
        """Sample the request's next token from its logits [V] and stream its text; True when it finished (its
        state then is the one before that token: `request.partial` after the prompt, else its row of `_state`)."""
        token = request.sampler(logits[None])
        request.sampler.observe(token)
        request.token = int(token[0])
        stats = request.result.stats
        text, reason = request.text.consume(request.token)
        now = perf_counter()
        if first:
            stats.time_to_first_token = now - request.submitted
        stats.decode_seconds = now - request.prefill_end
        if not reason and stats.generated_tokens == request.config.max_new_tokens:
            text, reason = text + request.text.finish_text(), "length"
        if text:
            request.out.put(text)
        if reason:
            state = request.partial if first else self._state.select([self._decoding.index(request)])
            self._finish(request, state, reason)
        return bool(reason)

    def _keep(self, positions: list[int]) -> None:
        self._decoding = [self._decoding[p] for p in positions]
        self._state = self._state.select(positions) if positions else None

    def _finish(self, request: _Request, state: RWKVState, reason: str) -> None:
        result = request.result
        result.state, result.pending, result.done = state, [request.token], True
        result.stats.stop_reason = reason
        result.stats.decode_seconds = perf_counter() - request.prefill_end
        self._end(request)

    @staticmethod
    def _end(request: _Request) -> None:
        request.out.put(_END)

    @staticmethod
    def _fail(request: _Request, error: BaseException) -> None:
        request.out.put(error)
        request.out.put(_END)
