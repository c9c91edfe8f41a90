"""Library exceptions turned into messages a user can act on: what went wrong and what to do."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr
import torch
from gradio.utils import get_upload_folder

from modrwkv.sources import SourceUnavailable

log = logging.getLogger(__name__)


def without_server_paths(message: str) -> str:
    """`message` with every path into Gradio's upload folder cut to its file name, which is the user's own."""
    folder = re.escape(str(get_upload_folder()).rstrip("/"))
    return re.sub(folder + r"/(?:[^/\s'\"]+/)*([^/\s'\"]+)", r"\1", message)


class UserError(gr.Error):
    """A refusal the user can act on: shown to them without the server's paths, and logged in one line, since a
    traceback of a user's bad file says nothing about the server."""

    def __init__(self, message: str):
        message = without_server_paths(message)
        log.warning("refused: %s", message)
        super().__init__(message, print_exception=False)

    def __str__(self) -> str:
        # gr.Error's is the message's repr, and Gradio shows str() where a request fails before it queues (a
        # validator's inputs): the visitor would read the message in quotes
        return self.message


def show_again(event: gr.events.Dependency, output: gr.components.Component) -> None:
    """After `event` fails, end a second event on `output` that changes nothing: Gradio covers a failed event's
    outputs with a red "Error" badge until another event on them completes, which hides what the visitor had (their
    conversation); the toast keeps the message. Nothing is sent up: the page's values may name files the server no
    longer has (after a restart)."""
    event.failure(gr.update, None, output, api_visibility="private", show_progress="hidden", queue=False)


@contextmanager
def user_errors(action: str) -> Iterator[None]:
    """Re-raise what fails while doing `action` (e.g. "reading the image") as a `UserError` naming the cause."""
    try:
        yield
    except gr.Error:
        raise
    except (torch.OutOfMemoryError, MemoryError) as e:
        raise UserError(
            f"Out of memory while {action}. Try a shorter input or a smaller model, "
            "or wait for other requests to finish."
        ) from e
    except SourceUnavailable as e:
        raise UserError(f"Could not fetch the model while {action}: {e}") from e
    except (ValueError, FileNotFoundError) as e:  # MediaError and CheckpointError are ValueErrors
        raise UserError(f"Problem while {action}: {e}") from e


@contextmanager
def load_errors(action: str) -> Iterator[None]:
    """`user_errors`, and anything else a model's loading raises as a `UserError` too (its traceback logged): a
    checkpoint can fail in ways the library does not name, and its user must still learn what failed while the
    other models keep serving."""
    try:
        with user_errors(action):
            yield
    except gr.Error:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of a load is the user's answer, not the server's end
        log.exception("unexpected error while %s", action)
        raise UserError(f"Problem while {action}: {type(e).__name__}: {e}") from e
