"""ZeroGPU support on Hugging Face Spaces: `@on_gpu` asks for a GPU per call where the `spaces` package exists."""
from __future__ import annotations

import importlib.util
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def on_gpu(fn: F) -> F:
    """`spaces.GPU(fn)` when `spaces` is importable (a Space), else `fn` unchanged."""
    if importlib.util.find_spec("spaces") is None:
        return fn
    import spaces

    return spaces.GPU(fn)
