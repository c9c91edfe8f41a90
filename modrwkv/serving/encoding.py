"""Modality inputs from many requests, encoded together: one worker thread per model runs its encoders on whatever
inputs wait, in as few batches as give each input what it gets alone (`Encoder.encode_each`).

A forward pass over a batch reads the encoder's weights once and multiplies larger matrices: it costs less per input
than a pass each (far less on a GPU). Requests that arrive while a batch is encoding form the next.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import torch
from torch import nn

from modrwkv.encoders.base import Encoder
from modrwkv.multimodal.model import ModRWKV, embed_each
from modrwkv.serving.worker import Worker


def embeddings(model: ModRWKV, modality: str, items: Sequence[Any], queue: EncoderQueue | None = None
               ) -> list[torch.Tensor]:
    """Each input's embeddings [1, L, C]: through `queue` (batched with other requests') where given, else one
    `model.embed` each, in the caller's thread; raises the first input's failure (MediaError for an unreadable one)."""
    if queue is not None:
        return queue.embed(modality, items)
    return [model.embed(modality, [item]) for item in items]


class EncoderQueueClosed(RuntimeError):
    """The queue was closed before the input was encoded."""


class EncoderQueue(Worker):
    """Serves `embed` calls from many threads on one model's encoders, batching those that wait together.

    Built from a ModRWKV's `encoders` and `adapters`, not the model: the queue's thread holds what it is given, and
    a model's owner must be able to drop it (and close the queue then). threads: CPU threads per batch (`Worker`;
    None: the process's setting)."""

    def __init__(self, encoders: Mapping[str, Encoder], adapters: Mapping[str, nn.Module], max_batch: int = 8,
                 threads: int | None = None):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        super().__init__("modrwkv-encoders", threads)
        self.encoders, self.adapters, self.max_batch = dict(encoders), dict(adapters), max_batch
        self._pending: deque[tuple[str, Any, Future]] = deque()
        self._start()

    def submit(self, modality: str, item: Any) -> Future:
        """Queue one input; its future gives the adapter output [1, L, C] or raises what reading it raised."""
        if modality not in self.encoders:
            raise ValueError(f"no {modality} encoder attached; this model reads {', '.join(self.encoders)}")
        future: Future = Future()
        with self._wake:
            if self._closed:
                raise EncoderQueueClosed("the encoder queue is closed")
            self._pending.append((modality, item, future))
            self._wake.notify()
        return future

    def embed(self, modality: str, items: Sequence[Any]) -> list[torch.Tensor]:
        """Each input's adapter output [1, L, C], as `model.embed` gives it alone; raises the first failure."""
        futures = [self.submit(modality, item) for item in items]
        return [future.result() for future in futures]


    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._pending:
                    self._wake.wait()
                if self._closed:
                    break
                modality = self._pending[0][0]
                batch = [entry for entry in self._pending if entry[0] == modality][: self.max_batch]
                for entry in batch:
                    self._pending.remove(entry)
            live = [(item, future) for _, item, future in batch if future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = embed_each(self.encoders[modality], self.adapters[modality], [item for item, _ in live])
            except Exception as e:  # noqa: BLE001 - a failed batch fails its inputs, the worker keeps serving
                results = [e] * len(live)
            for (_, future), result in zip(live, results):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        with self._wake:
            left, self._pending = list(self._pending), deque()
        for _, _, future in left:
            if future.set_running_or_notify_cancel():
                future.set_exception(EncoderQueueClosed("the encoder queue closed before this input was encoded"))
