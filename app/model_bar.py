"""The shared model bar: which model each tab uses in this browser session, on which device and dtype.

A session's choice is a `Selection` in a `gr.State`; the weights are shared through `app.models`. A choice that
cannot be loaded raises a `gr.Error` saying why, and the session keeps the model it had.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app import models
from app.errors import user_errors
from modrwkv.backbone import DTYPES
from modrwkv.multimodal import ModRWKV


@dataclass(frozen=True)
class Choice:
    key: str  # a catalog key, or the path / Hugging Face id the user typed
    source: str
    dtype: str


Selection = dict[str, Choice]  # modality -> the model this session uses for it


def default_selection() -> Selection:
    by_key = {e.key: e for e in models.catalog()}
    return {m: Choice(key, by_key[key].source, models.default_dtype()) for m, key in models.defaults().items()}


def model_for(selection: Selection | None, modality: str) -> ModRWKV:
    """The session's model for `modality` (the default when it chose none), loaded once for all sessions."""
    choice = (selection or default_selection()).get(modality) or default_selection()[modality]
    with user_errors(f"loading the {models.TAB_NAMES[modality]} model '{choice.key}'"):
        return models.load(choice.source, choice.dtype)


def describe(selection: Selection) -> str:
    rows = " · ".join(f"**{models.TAB_NAMES[m]}**: {c.key} ({c.dtype})" for m, c in selection.items())
    return f"{rows} · device **{models.DEVICE}**"


def load_model(choice: str, dtype: str, selection: Selection | None) -> tuple[Selection, str]:
    """Load a catalog model, a local folder or a Hugging Face id; it serves the tab of its modality."""
    selection = dict(selection or default_selection())
    text = (choice or "").strip()
    if not text:
        raise gr.Error("Pick a model from the list, or type a folder path or a Hugging Face id.")
    if dtype not in DTYPES:
        raise gr.Error(f"Unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}.")
    entry = models.find(text)
    source = entry.source if entry else text
    with user_errors(f"loading '{text}' (the current models keep serving)"):
        model = models.load(source, dtype)
    if not model.encoders:
        raise gr.Error(f"'{text}' has no modality encoder: the tabs need a ModRWKV checkpoint (image, audio or series).")
    for modality in model.encoders:
        selection[modality] = Choice(entry.key if entry else text, source, dtype)
    return selection, describe(selection)


def build() -> gr.State:
    """The bar's components and events; returns the session's selection for the tabs to read."""
    selection = gr.State(default_selection())
    entries = models.catalog()
    with gr.Row(equal_height=True):
        choice = gr.Dropdown(
            [(e.label, e.key) for e in entries], value=entries[0].key, label="Model", allow_custom_value=True, scale=5,
            info="Bundled and demo models work offline; published ones download from the Hugging Face Hub. "
                 "A folder path or a Hub id also works.",
        )
        dtype = gr.Dropdown(
            list(DTYPES), value=models.default_dtype(), label="dtype", scale=1,
            info="fp16, int8: smaller weights, fp32 math" if models.DEVICE == "cpu" else None,
        )
        load_btn = gr.Button("Load", scale=1)
    status = gr.Markdown(describe(default_selection()))
    load_btn.click(load_model, [choice, dtype, selection], [selection, status], api_name="load_model")
    return selection
