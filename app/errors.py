"""Library exceptions turned into messages a user can act on: what went wrong and what to do."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr
import torch

from modrwkv.sources import SourceUnavailable


@contextmanager
def user_errors(action: str) -> Iterator[None]:
    """Re-raise what fails while doing `action` (e.g. "reading the image") as a `gr.Error` naming the cause."""
    try:
        yield
    except gr.Error:
        raise
    except (torch.OutOfMemoryError, MemoryError) as e:
        raise gr.Error(
            f"Out of memory while {action}. Try a shorter input or a smaller model, "
            "or wait for other requests to finish."
        ) from e
    except SourceUnavailable as e:
        raise gr.Error(f"Could not fetch the model while {action}: {e}") from e
    except (ValueError, FileNotFoundError) as e:  # MediaError and CheckpointError are ValueErrors
        raise gr.Error(f"Problem while {action}: {e}") from e
