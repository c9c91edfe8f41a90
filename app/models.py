"""The models the app serves: loaded once per (source, dtype) and shared by every browser session."""
from __future__ import annotations

import threading

import torch

from modrwkv import RWKV7, RWKVTokenizer, encoders
from modrwkv.config import RWKV7Config
from modrwkv.multimodal import ModRWKV
from modrwkv.random_weights import random_state_dict

_lock = threading.Lock()
_models: dict[tuple[str, str], RWKV7] = {}
_tokenizer: RWKVTokenizer | None = None
_forecast_model: ModRWKV | None = None


def get_model(src: str, dtype: str = "fp32") -> RWKV7:
    """Load (or reuse) a model; raises the library's own errors (FileNotFoundError, CheckpointError, ...)."""
    key = (src.strip(), dtype)
    with _lock:
        if key not in _models:
            _models[key] = RWKV7.from_pretrained(key[0], dtype=dtype)
        return _models[key]


def get_tokenizer() -> RWKVTokenizer:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            _tokenizer = RWKVTokenizer()
        return _tokenizer


def get_forecast_model() -> ModRWKV:
    """The time-series model: a small ModRWKV (WaveNet encoder, 12-step head) with random weights until a
    trained checkpoint is bundled; seeded so every restart serves the same forecasts."""
    global _forecast_model
    with _lock:
        if _forecast_model is None:
            with torch.random.fork_rng():  # the encoder, adapter and head draw from torch's global generator
                torch.manual_seed(0)
                llm = RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(2, 128)))
                _forecast_model = ModRWKV.build(llm, [encoders.build("wavenet")], forecast_horizon=12)
        return _forecast_model
