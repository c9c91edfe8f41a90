"""Where the models run: this machine's CPU or GPU, or a ZeroGPU slice that a Hugging Face Space lends per call.

On ZeroGPU (the `spaces` package is importable) a GPU exists only inside a `@spaces.GPU` call: models load on the
CPU at start, in a layout that can move, and each call moves the model it uses to CUDA (`placed`). Elsewhere a
model loads where it will run. The device is asked of torch when a model loads or a call starts, never at import,
so that `spaces` can be imported before CUDA is touched.
"""
from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import TypeVar


@functools.cache
def zero_gpu() -> bool:
    """True on a ZeroGPU Space (the platform installs `spaces` there)."""
    return importlib.util.find_spec("spaces") is not None


if zero_gpu():
    import spaces  # noqa: F401 - ZeroGPU must be imported before torch touches CUDA

import torch  # noqa: E402

F = TypeVar("F", bound=Callable)
M = TypeVar("M", bound=torch.nn.Module)

# seconds a ZeroGPU call may hold its GPU: the Space's scheduler favours short requests, and a call that runs over
# is stopped, so each model call asks for what its longest input needs
CHAT_SECONDS = 60
TRANSCRIBE_SECONDS = 120  # up to 15 minutes of audio, window by window
FORECAST_SECONDS = 30


def load_device() -> str:
    """Where models load: the CPU on ZeroGPU (no GPU outside a call), else CUDA when this machine has a GPU."""
    return "cpu" if zero_gpu() or not torch.cuda.is_available() else "cuda"


def placed(model: M) -> M:
    """`model` on the device this call runs on: moved to CUDA inside a ZeroGPU call (which runs in a worker process of
    its own, so the server's copy stays on the CPU), unchanged elsewhere."""
    if zero_gpu() and torch.cuda.is_available():
        return model.to("cuda")
    return model


def on_gpu(duration: int) -> Callable[[F], F]:
    """Decorator: on ZeroGPU, `spaces.GPU(duration=...)` so that each call gets a GPU for up to `duration` seconds;
    elsewhere the function unchanged."""

    def wrap(fn: F) -> F:
        if not zero_gpu():
            return fn
        import spaces

        return spaces.GPU(duration=duration)(fn)

    return wrap
