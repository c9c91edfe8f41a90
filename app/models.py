"""The models the app serves: a catalog (bundled, demo, published), each loaded once and shared by every session.

A browser session only stores the *key* of the model it chose per modality; the weights live here, in a small
cache, so eight users of the same model hold one copy of it.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from modrwkv import RWKV7, RWKVTokenizer, encoders
from modrwkv.backbone import default_cpu_dtype
from modrwkv.config import RWKV7Config
from modrwkv.multimodal import ModRWKV
from modrwkv.official import RELEASES
from modrwkv.random_weights import random_state_dict

MODELS_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
MODALITIES = ("image", "audio", "series")
TAB_NAMES = {"image": "Image chat", "audio": "Speech", "series": "Forecast"}
# requests run at once on the shared models: one on a CPU (each run already uses every core), more on a GPU
MODEL_CONCURRENCY = 4 if DEVICE == "cuda" else 1
CACHE_SIZE = 4  # models kept loaded besides those a session still holds; each default is a few MB
DEMO_PREFIX = "demo:"
# the untrained demos: (encoder, forecast horizon); forecasts are rolled out beyond the head's horizon
DEMOS = {"image": ("siglip2", None), "audio": ("whisper", None), "series": ("wavenet", 12)}


def default_dtype() -> str:
    """bf16 on a GPU; on a CPU `default_cpu_dtype()`: bf16 where it is native, else fp16 weights with fp32 arithmetic."""
    return "bf16" if DEVICE == "cuda" else default_cpu_dtype()


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


def find(key_or_source: str) -> Entry | None:
    """The catalog entry named `key_or_source` (by key or by source), or None for a custom source."""
    text = key_or_source.strip()
    return next((e for e in catalog() if text in (e.key, e.source, e.label)), None)


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
            model = ModRWKV.from_pretrained(key[0], dtype=key[1], device=DEVICE)
        _cache[key] = model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return model


def load_defaults() -> None:
    """Load each modality's default model now (the app starts this beside start-up), so that a first request finds it
    loaded: the bundled speech model took 7.2 s to load on 2 cores, its first transcription then 0.2 s."""
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
        llm = RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(2, 128), seed=0), dtype=dtype, device=DEVICE)
        model = ModRWKV.build(llm, [encoders.build(encoder)], forecast_horizon=horizon)
    return model.to(DEVICE)  # the encoder, adapter and head are built on the CPU


def preload(source: str, dtype: str | None = None) -> list[Entry]:
    """Load `source` now and make it the default of its modalities for every new session."""
    entry = find(source)
    model = load(entry.source if entry else source, dtype)
    if not model.encoders:
        raise ValueError(f"'{source}' has no modality encoder: the app serves ModRWKV checkpoints (image, audio, series)")
    kind = entry.kind if entry else "custom"
    added = [Entry(entry.key if entry else source, entry.source if entry else source, m, kind) for m in model.encoders]
    _preloaded[:0] = added
    return added


def tokenizer() -> RWKVTokenizer:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            _tokenizer = RWKVTokenizer()
        return _tokenizer
