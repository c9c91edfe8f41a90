"""The models the app serves: a catalog (bundled, demo, published), each loaded once and shared by every session.

A browser session only stores the *key* of the model it chose per modality; the weights live here, in a small
cache, so eight users of the same model hold one copy of it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from app import gpu
from modrwkv import RWKV7, RWKVTokenizer, encoders
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import RELEASES, weights_source
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.loading import default_cpu_dtype
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.serving.encoding import EncoderQueue
from modrwkv.serving.scheduler import Scheduler
from modrwkv.serving.worker import Worker
from modrwkv.sources import download_size, hub_repo
from modrwkv.space import split_front_matter

MODELS_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
MODALITIES = ("image", "audio", "series")
TAB_NAMES = {"image": "Image chat", "audio": "Speech", "series": "Forecast"}
CACHE_SIZE = 4  # models kept loaded besides those a session still holds; each default is a few MB
# a session's conversation (one RNN state) is dropped after this long without a message; Gradio also keeps at most
# SESSION_CAPACITY sessions' states, so the memory of all conversations is bounded
CONVERSATION_SECONDS = 3600
SESSION_CAPACITY = 500
# a public server downloads Hub models up to this size (weights and configs, read from the Hub before downloading)
MAX_DOWNLOAD_BYTES = int(float(os.environ.get("MODRWKV_MAX_DOWNLOAD_GB", "4")) * 2**30)
DEMO_PREFIX = "demo:"
# the untrained demos: (encoder, forecast horizon); forecasts are rolled out beyond the head's horizon
DEMOS = {"image": ("siglip2", None), "audio": ("whisper", None), "series": ("wavenet", 12)}


_public = False


def set_public(public: bool) -> None:
    """Serve as a public site (`--public`), with the guards of `check_public`; a Space (SPACE_ID set) always is."""
    global _public
    _public = public


def public() -> bool:
    return _public or bool(os.environ.get("SPACE_ID"))


def device() -> str:
    """The device models load on (see `app.gpu`), e.g. for the page to name it."""
    return "zerogpu" if gpu.zero_gpu() else gpu.load_device()


def model_concurrency() -> int:
    """Requests run at once on the shared models: one on a CPU (each run already uses every core), more on a GPU."""
    return 1 if device() == "cpu" else 4


# Conversations decoded together in one batched step (`MODRWKV_BATCH`; 1: one request at a time, without the
# scheduler). A CPU step of 8 costs little more than a step of 1 (the weights are read once for all); a GPU's
# costs the same up to far larger batches. Prompt positions fed per step: enough to read a question in one or two
# steps, few enough that the others' next tokens are not held up for long.
BATCH = {"cpu": 8, "cuda": 32}
STEP_TOKENS = {"cpu": 256, "cuda": 2048}
# Serving workers each model has when batched (its scheduler and its encoder queue) and models the tabs keep busy at
# once (chat and speech): the workers sharing a CPU's cores.
BUSY_WORKERS = 4


def _count_setting(name: str) -> int | None:
    """The environment variable `name` as a whole number >= 1, or None where it is unset; ValueError naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def max_batch() -> int:
    """How many conversations the app decodes in one batched step; 1 on ZeroGPU, where each call runs in a process
    of its own."""
    if gpu.zero_gpu():
        return 1
    value = _count_setting("MODRWKV_BATCH")
    return BATCH[device()] if value is None else value


def worker_threads() -> int | None:
    """CPU threads each serving worker computes on (`MODRWKV_WORKER_THREADS`); on a CPU by default an even share of
    PyTorch's threads among BUSY_WORKERS (at least one): the workers then compute side by side, where with every
    thread each they would wait on each other's threads at every operation. None on a GPU: the process's setting."""
    value = _count_setting("MODRWKV_WORKER_THREADS")
    if value is not None:
        return value
    return None if device() != "cpu" else max(1, torch.get_num_threads() // BUSY_WORKERS)


def conversation_queue(tab: str) -> dict[str, str | int]:
    """Gradio's queue settings (`concurrency_id`, `concurrency_limit`) for a tab whose answers a scheduler decodes.

    Batched, each tab has a queue of its own as wide as a batch: its model's scheduler takes that many at once (and
    keeps its own line beyond them, where two tabs share a model), so one shared queue would leave the two tabs'
    batches half full while visitors wait. One at a time, both tabs share the one model slot."""
    if max_batch() == 1:
        return {"concurrency_id": "conversation", "concurrency_limit": model_concurrency()}
    return {"concurrency_id": f"conversation-{tab}", "concurrency_limit": max_batch()}


# each loaded model's serving workers, by kind; a worker is closed when its model is dropped
_workers: dict[str, weakref.WeakKeyDictionary[ModRWKV, Worker]] = {"scheduler": weakref.WeakKeyDictionary(),
                                                                   "encoders": weakref.WeakKeyDictionary()}


def _worker(kind: str, model: ModRWKV, start: Callable[[], Worker]) -> Worker | None:
    """`model`'s worker of `kind`, started once (`start`), or None when the app answers one request at a time."""
    if max_batch() == 1:
        return None
    with _lock:
        if model not in _workers[kind]:
            worker = _workers[kind][model] = start()
            weakref.finalize(model, worker.close)
        return _workers[kind][model]


def scheduler(model: ModRWKV) -> Scheduler | None:
    """The scheduler that serves `model`'s conversations in shared batched steps (one per loaded model, stopped when
    the model is dropped), or None when the app answers one request at a time."""
    return _worker("scheduler", model,
                   lambda: Scheduler(model.llm, _shared_tokenizer(), max_batch(), STEP_TOKENS[device()],
                                     worker_threads()))


def encoder_queue(model: ModRWKV) -> EncoderQueue | None:
    """The queue that encodes the inputs of `model`'s requests together (one per loaded model, stopped when the
    model is dropped), or None when the app answers one request at a time."""
    return _worker("encoders", model, lambda: EncoderQueue(model.encoders, model.adapters, max_batch(),
                                                        worker_threads()))


def default_dtype() -> str:
    """bf16 on a GPU; on a CPU `default_cpu_dtype()`: bf16 where it is native, else fp16 weights with fp32
    arithmetic."""
    return "bf16" if device() != "cpu" else default_cpu_dtype()


@dataclass(frozen=True)
class Entry:
    key: str  # what the selector shows and what a session stores
    source: str  # a folder or file, a Hugging Face id, or DEMO_PREFIX + modality
    modality: str  # one of MODALITIES
    kind: str  # "bundled" | "demo" | "published" | "custom"

    @property
    def label(self) -> str:
        notes = {
            "bundled": "small offline model, bundled",
            "demo": "untrained demo: random adapter and language model",
            "published": "published checkpoint, downloaded from the Hugging Face Hub",
            "custom": "your checkpoint",
        }
        return f"{self.key} ({notes[self.kind]})"


def _bundled() -> list[Entry]:
    entries = []
    for config in sorted(MODELS_DIR.glob("*/config.json")):
        modalities = list(json.loads(config.read_text()).get("modalities", {}))
        if len(modalities) == 1:
            entries.append(Entry(config.parent.name, str(config.parent), modalities[0], "bundled"))
    return entries


_preloaded: list[Entry] = []  # `python app.py --model ...`: the defaults of their modalities


def catalog() -> list[Entry]:
    """Models named at start-up, bundled defaults, an untrained demo for each modality without a bundled model,
    then the published releases."""
    bundled = _preloaded + _bundled()
    covered = {e.modality for e in bundled}
    demos = [Entry(f"demo-{m}", DEMO_PREFIX + m, m, "demo") for m in MODALITIES if m not in covered]
    published = [Entry(rid, rid, encoders.get(r.encoder).modality, "published") for rid, r in RELEASES.items()]
    return bundled + demos + published


def defaults() -> dict[str, str]:
    """The key of the first catalog entry of each modality."""
    chosen: dict[str, str] = {}
    for entry in catalog():
        chosen.setdefault(entry.modality, entry.key)
    return chosen


def card_url(entry: Entry) -> str | None:
    """Where a visitor reads the model card of a bundled model (the Space's page of the file on a Space, else the
    app's own file route, which `card_files` allows) or of a published one (its Hub page)."""
    if entry.kind == "published":
        return f"https://huggingface.co/{entry.source}"
    card = Path(entry.source) / "README.md"
    if entry.kind != "bundled" or not card.is_file():
        return None
    space = os.environ.get("SPACE_ID")
    if space and card.resolve().is_relative_to(MODELS_DIR.parent.parent):
        return f"https://huggingface.co/spaces/{space}/blob/main/{card.resolve().relative_to(MODELS_DIR.parent.parent)}"
    return f"/gradio_api/file={card.resolve()}"


def card_files() -> list[str]:
    """The bundled model cards, which the server may serve (`launch(allowed_paths=...)`)."""
    return [str(card.resolve()) for card in sorted(MODELS_DIR.glob("*/README.md"))]


def card_summary(entry: Entry) -> str:
    """What the model can do, in one line: its card's `summary:` (front matter) or first sentence."""
    card = Path(entry.source) / "README.md"
    if entry.kind != "bundled" or not card.is_file():
        notes = {"demo": "an untrained demo with random weights: its outputs mean nothing",
                 "published": "a published checkpoint", "custom": "a checkpoint named at start-up"}
        return notes.get(entry.kind, entry.kind)
    meta, body = split_front_matter(card.read_text(encoding="utf-8"))
    if meta.get("summary"):
        return str(meta["summary"]).strip()
    paragraph = next(p for p in body.split("\n\n") if p.strip() and not p.startswith("#"))
    return re.split(r"(?<=\.)\s", " ".join(paragraph.split()), maxsplit=1)[0]


def introduction(modality: str) -> str:
    """The line that opens a tab: its default model, what it can do, its card, and where better models are."""
    entry = next(e for e in catalog() if e.key == defaults()[modality])
    url = card_url(entry)
    card = f" [Model card]({url})." if url else ""
    published = any(e.kind == "published" and e.modality == modality for e in catalog())
    better = (
        " For real-world inputs, open the Model section above and pick a published checkpoint." if published else ""
    )
    return f"**Default model: {entry.key}** — {card_summary(entry)}{card}{better}"


def find(key_or_source: str) -> Entry | None:
    """The catalog entry named `key_or_source` (by key or by source), or None for a custom source."""
    text = key_or_source.strip()
    return next((e for e in catalog() if text in (e.key, e.source, e.label)), None)


def check_public(source: str) -> None:
    """On a public server, refuse what a visitor must not make it load: paths on the server (only the catalog's own
    folders load), and Hub models whose weights exceed MAX_DOWNLOAD_BYTES (measured before any download).

    Raises ValueError saying why, or SourceUnavailable when the Hub cannot tell the size."""
    if not public():
        return
    entry = find(source)
    if entry is not None and entry.kind in ("bundled", "demo"):
        return
    repo = hub_repo(weights_source(entry.source if entry else source))
    if repo is None:
        raise ValueError(
            "this public server loads only the models in its list and Hugging Face ids (owner/name), not paths on "
            "the server"
        )
    size = download_size(*repo)
    if size > MAX_DOWNLOAD_BYTES:
        raise ValueError(
            f"'{source}' holds {size / 2**30:.1f} GB of weights; this public server downloads models up to "
            f"{MAX_DOWNLOAD_BYTES / 2**30:.1f} GB (run the app on your own machine for larger ones)"
        )


_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str], ModRWKV] = OrderedDict()
_tokenizer: RWKVTokenizer | None = None


def load(source: str, dtype: str | None = None) -> ModRWKV:
    """The model at `source` (a catalog source, a folder/file or a Hugging Face id), loaded once per dtype.

    Raises the library's errors (FileNotFoundError, SourceUnavailable, CheckpointError, ValueError) unchanged.
    """
    key = (source.strip(), dtype or default_dtype())
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        if key[0].startswith(DEMO_PREFIX):
            model = _demo(key[0][len(DEMO_PREFIX):], key[1])
        else:
            # on ZeroGPU the model moves to CUDA per call, so it keeps a layout that can move (no CPU packing)
            model = ModRWKV.from_pretrained(key[0], dtype=key[1], device=gpu.load_device(),
                                            pack_weights=not gpu.zero_gpu())
        _cache[key] = model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return model


def load_defaults() -> None:
    """Load each modality's default model now (the app starts this beside start-up), so that a first request finds it
    loaded: loading a model takes far longer than its first answer, which a first user would otherwise wait for."""
    by_key = {e.key: e for e in catalog()}
    for key in dict.fromkeys(defaults().values()):
        try:
            load(by_key[key].source)
        except Exception as e:  # noqa: BLE001 - a request for it will load it again and report the error to its user
            logging.getLogger(__name__).warning("default model '%s' not loaded at start-up: %s", key, e)


def _demo(modality: str, dtype: str) -> ModRWKV:
    """A small ModRWKV with random weights, seeded so every restart serves the same outputs."""
    if modality not in DEMOS:
        raise ValueError(f"no demo model for '{modality}'; demos exist for {', '.join(DEMOS)}")
    encoder, horizon = DEMOS[modality]
    with torch.random.fork_rng():  # the encoder and adapter draw from torch's global generator
        torch.manual_seed(0)
        llm = RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(2, 128), seed=0), dtype=dtype,
                                    device=gpu.load_device(), pack_weights=not gpu.zero_gpu())
        model = ModRWKV.build(llm, [encoders.build(encoder)], forecast_horizon=horizon)
    return model.to(gpu.load_device())  # the encoder, adapter and head are built on the CPU


def preload(source: str, dtype: str | None = None) -> list[Entry]:
    """Load `source` now and make it the default of its modalities for every new session."""
    entry = find(source)
    model = load(entry.source if entry else source, dtype)
    if not model.encoders:
        raise ValueError(
            f"'{source}' has no modality encoder: the app serves ModRWKV checkpoints (image, audio, series)"
        )
    kind = entry.kind if entry else "custom"
    added = [Entry(entry.key if entry else source, entry.source if entry else source, m, kind) for m in model.encoders]
    _preloaded[:0] = added
    return added


def tokenizer() -> RWKVTokenizer:
    with _lock:
        return _shared_tokenizer()


def _shared_tokenizer() -> RWKVTokenizer:
    """`tokenizer()` for a caller that holds the lock."""
    global _tokenizer
    if _tokenizer is None:
        _tokenizer = RWKVTokenizer()
    return _tokenizer
