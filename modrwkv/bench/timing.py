"""Wall-clock timing that waits for asynchronous devices, so GPU runs are timed correctly too."""
from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TypeVar

import torch

T = TypeVar("T")


def synchronize(device: torch.device | str) -> None:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], T], device: torch.device | str) -> tuple[float, T]:
    """Seconds `fn()` takes (device work included) and its result."""
    synchronize(device)
    start = perf_counter()
    result = fn()
    synchronize(device)
    return perf_counter() - start, result


def best_of(fn: Callable[[], T], repeats: int, device: torch.device | str) -> tuple[float, T]:
    """Fastest of `repeats` runs (the least disturbed by other work on the machine) and the last result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        seconds, result = timed(fn, device)
        best = min(best, seconds)
    return best, result
