"""The thread that owns a model's serving work (a scheduler's steps, an encoder queue's batches)."""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod

import torch
from threadpoolctl import threadpool_limits


class Worker(ABC):
    """A daemon thread running `_run`, woken through `_wake`; `close()` stops it and waits for it to end.

    threads: the CPU threads each of its operations may use (PyTorch's OpenMP pool, for this thread only; None: the
    process's setting). Several workers on a few cores run side by side on one thread each, where with the whole
    pool each they would wait on each other's threads at every operation.
    """

    def __init__(self, name: str, threads: int | None = None):
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads}")
        self._wake = threading.Condition()
        self._closed = False
        self._threads = threads
        self._worker = threading.Thread(target=self._limited_run, name=name, daemon=True)

    def _start(self) -> None:
        """Start the thread: the subclass calls it once its own fields are set."""
        self._worker.start()

    def close(self) -> None:
        """Stop the worker; what it had not finished fails with the subclass's "closed" error."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if threading.current_thread() is not self._worker:  # a finalizer may run in the worker itself
            self._worker.join()

    def _limited_run(self) -> None:
        if self._threads is not None:
            # OpenMP's thread count is per calling thread: limiting it here leaves the rest of the process as it was.
            # PyTorch sets a thread's count from the process's on its first use there, so that comes first. Set once
            # for the thread's life, not held open as a context: while a thread holds one open, threadpoolctl lets
            # only that thread change OpenBLAS's limits, and other threads' `threadpool_limits` would do nothing.
            torch.get_num_threads()
            threadpool_limits(self._threads, "openmp")
        self._run()

    @abstractmethod
    def _run(self) -> None:
        """The thread's loop: wait on `_wake` for work or `_closed`, do the work, fail what is left once closed."""
