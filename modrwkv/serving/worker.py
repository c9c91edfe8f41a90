"""The thread that owns a model's serving work (a scheduler's steps, an encoder queue's batches)."""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class Worker(ABC):
    """A daemon thread running `_run`, woken through `_wake`; `close()` stops it and waits for it to end."""

    def __init__(self, name: str):
        self._wake = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)

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

    @abstractmethod
    def _run(self) -> None:
        """The thread's loop: wait on `_wake` for work or `_closed`, do the work, fail what is left once closed."""
