"""The shared model bar: which model each tab uses in this browser session, on which device and dtype.

A session's choice is a `Selection` in a `gr.State`; the weights are shared through `app.models`. A choice that
cannot be loaded raises a `gr.Error` saying why, and the session keeps the model it had. The bar follows the open
tab: it lists that tab's models and shows the one the session uses there (hidden on tabs without a model).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from app import gpu, models
from app.errors import UserError, load_errors, show_again
from modrwkv.multimodal import ModRWKV
from modrwkv.rwkv7.loading import DTYPES


@dataclass(frozen=True)
class Choice:
    key: str  # a catalog key, or the path / Hugging Face id the user typed
    source: str
    dtype: str


Selection = dict[str, Choice]  # modality -> the model a browser session uses for it


def default_selection() -> Selection:
    by_key = {e.key: e for e in models.catalog()}
    return {m: Choice(key, by_key[key].source, models.default_dtype()) for m, key in models.defaults().items()}


def choice_for(selection: Selection | None, modality: str) -> Choice:
    """The model the session uses for `modality`: its own choice, else the default."""
    return (selection or default_selection()).get(modality) or default_selection()[modality]


def model_for(selection: Selection | None, modality: str) -> ModRWKV:
    """The session's model for `modality` (the default when it chose none), loaded once for all sessions, on the
    device of this call."""
    choice = choice_for(selection, modality)
    with load_errors(f"loading the {models.TAB_NAMES[modality]} model '{choice.key}'"):
        return gpu.placed(models.load(choice.source, choice.dtype))


def describe(selection: Selection) -> str:
    rows = " · ".join(f"**{models.TAB_NAMES[m]}**: {c.key} ({c.dtype})" for m, c in selection.items())
    return f"{rows} · device **{models.device()}**"


def load_model(
    choice: str, dtype: str, selection: Selection | None, progress: gr.Progress = gr.Progress(track_tqdm=True)
) -> tuple[Selection, str]:
    """Load a catalog model, a local folder or a Hugging Face id; it serves the tab of its modality.
    A public server takes only its catalog and Hub ids below its size limit (`models.check_public`)."""
    selection = dict(selection or default_selection())
    text = (choice or "").strip()
    if not text:
        raise UserError("Pick a model from the list, or type a folder path or a Hugging Face id.")
    if dtype not in DTYPES:
        raise UserError(f"Unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}.")
    key, source = _named(text)
    with load_errors(f"loading '{text}' (the current models keep serving)"):
        models.check_public(source)
        progress(0, desc=f"Loading {text}")  # downloads show their own bars (huggingface_hub's tqdm)
        model = models.load(source, dtype)
    if not model.encoders:
        raise UserError(
            f"'{text}' has no modality encoder: the tabs need a ModRWKV checkpoint (image, audio or series)."
        )
    for modality in model.encoders:
        selection[modality] = Choice(key, source, dtype)
    return selection, describe(selection)


def _choices(modality: str) -> list[tuple[str, str]]:
    return [(e.label, e.key) for e in models.catalog() if e.modality == modality]


def heading(choice: Choice) -> str:
    return f"Model: {choice.key} ({choice.dtype}) · change"


def shown_for(modality: str, selection: Selection | None) -> tuple[dict, dict, dict]:
    """The bar on `modality`'s tab: its models listed, the session's model for it and that model's dtype chosen."""
    choice = choice_for(selection, modality)
    return (
        gr.update(visible=True, label=heading(choice)),
        gr.update(choices=_choices(modality), value=choice.key, label=f"{models.TAB_NAMES[modality]} model"),
        gr.update(value=choice.dtype),
    )


@dataclass
class ModelBar:
    selection: gr.State  # the session's Selection, for the tabs to read
    row: gr.Accordion
    choice: gr.Dropdown
    dtype: gr.Dropdown

    def follow(self, tab: gr.Tab, modality: str) -> None:
        """While `tab` is open the bar lists `modality`'s models and shows the session's."""
        tab.select(partial(shown_for, modality), [self.selection], [self.row, self.choice, self.dtype],
                   show_progress="hidden", queue=False, api_visibility="private")

    def hide_on(self, tab: gr.Tab) -> None:
        tab.select(lambda: gr.update(visible=False), None, [self.row], show_progress="hidden", queue=False,
                   api_visibility="private")


def _named(text: str) -> tuple[str, str]:
    """(the key a session stores, the source to load) for what the user picked or typed."""
    entry = models.find(text)
    return (entry.key, entry.source) if entry else (text, text)


def _heading_after_load(selection: Selection, typed: str) -> dict:
    key, _ = _named((typed or "").strip())
    loaded = next((c for c in selection.values() if c.key == key), None)
    return gr.update(label=heading(loaded)) if loaded else gr.update()


def _custom_hint() -> str:
    if models.public():
        return f"A Hugging Face id (owner/name) of up to {models.MAX_DOWNLOAD_BYTES / 2**30:.0f} GB also works."
    return "A folder path or a Hugging Face id also works."


def build(first: str) -> ModelBar:
    """The bar's components and events, showing the models of the `first` tab's modality: a closed section, since a
    visitor starts with the defaults."""
    selection = gr.State(default_selection())
    chosen = default_selection()[first]
    with gr.Accordion(heading(chosen), open=False, elem_id="model-bar") as row:
        with gr.Row(equal_height=True):
            choice = gr.Dropdown(
                _choices(first), value=chosen.key, label=f"{models.TAB_NAMES[first]} model", allow_custom_value=True,
                scale=5, elem_id="model-choice",
                info="Bundled and demo models work offline; published checkpoints, for real-world use, download "
                     f"from the Hugging Face Hub. {_custom_hint()}",
            )
            dtype = gr.Dropdown(
                list(DTYPES), value=chosen.dtype, label="dtype", scale=1,
                info="fp16, int8: smaller weights, fp32 math" if models.device() == "cpu" else None,
            )
            load_btn = gr.Button("Load", scale=1)
        status = gr.Markdown(describe(default_selection()), label="Model status")
    loaded = load_btn.click(load_model, [choice, dtype, selection], [selection, status], api_name="load_model",
                            concurrency_id="model", concurrency_limit=models.model_concurrency())
    loaded.success(_heading_after_load, [selection, choice], row, api_visibility="private", queue=False)
    show_again(loaded, status)  # a refused model leaves the status of the ones still serving in view
    return ModelBar(selection, row, choice, dtype)
