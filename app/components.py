"""Adjustments to Gradio components, each for a fault of the Gradio release the app pins."""
from __future__ import annotations

import gradio as gr
from gradio.data_classes import FileData
from gradio.utils import NamedString


def upload_path_only(file: gr.File) -> gr.File:
    """`file` (type "filepath") handing its function the uploaded file's path, and nothing more.

    gr.File(type="filepath") also creates an empty NamedTemporaryFile in Gradio's cache on every call and never
    removes it (Gradio 6.31): one stray file per request on a public server. Patched on the instance, not by a
    subclass, because Gradio writes a .pyi stub beside every component subclass it sees. The app checks every
    file's content itself, so gr.File's file_types check is not needed either.
    """
    original = file._process_single_file

    def process(f: FileData) -> NamedString | bytes:
        return NamedString(f.path) if file.type == "filepath" else original(f)

    file._process_single_file = process
    return file
