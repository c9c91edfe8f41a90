"""Requests from a page that outlived the server's files: told to reload the page instead of failing without a word.

A browser page keeps the server paths of its uploads (the chat's images, the recording, the table) and sends them
back with later requests. After a restart (a Space restart starts from a fresh disk, and the app's cache is emptied
when it stops) or once a file has left the cache (`app.file_retention`), such a path names nothing: Gradio refuses a
path outside this process's upload folder while preparing the request's inputs, before any handler runs (the page
shows a bare "Error"), and a handler would report a missing file as if the visitor's file were at fault. `Blocks`
answers both with `stale_file_message`.
"""
from __future__ import annotations

import re
from pathlib import Path, PurePath
from typing import Any

import gradio as gr
from gradio.exceptions import InvalidPathError
from gradio_client import utils as client_utils

from app.errors import UserError


def stale_file_message(path: str | None) -> str:
    """What a visitor whose page names a file the server no longer has is told: which file (its name only, never the
    server's path) and to reload the page."""
    name = f"'{PurePath(path).name}'" if path else "a file"
    return (
        f"The app restarted since this page was opened (or its files expired after an hour): {name}, which this "
        "request refers to, is no longer on the server. Reload the page, then upload the file again."
    )


def missing_files(inputs: Any) -> list[str]:
    """The local paths of the files named in a request's raw inputs (Gradio's FileData) that do not exist."""
    missing: list[str] = []

    def check(file: dict) -> dict:
        path = file["path"]
        if not client_utils.is_http_url_like(path) and not Path(path).exists():
            missing.append(path)
        return file

    client_utils.traverse(inputs, check, client_utils.is_file_obj_with_meta)
    return missing


def _refused_path(error: InvalidPathError) -> str | None:
    found = re.search(r"Cannot move (.+?) to the gradio cache dir", str(error))
    return found.group(1) if found else None


class Blocks(gr.Blocks):
    """`gr.Blocks` whose requests naming an upload the server no longer holds are refused with `stale_file_message`."""

    async def preprocess_data(self, block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False) -> Any:
        missing = missing_files(inputs)
        if missing:
            raise UserError(stale_file_message(missing[0]))
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except InvalidPathError as e:  # a path this process's upload folder never held (another process's)
            raise UserError(stale_file_message(_refused_path(e))) from e
