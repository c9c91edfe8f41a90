"""The models the app serves: loaded once per (source, dtype) and shared by every browser session."""
from __future__ import annotations

import threading

from modrwkv import RWKV7, RWKVTokenizer

_lock = threading.Lock()
_models: dict[tuple[str, str], RWKV7] = {}
_tokenizer: RWKVTokenizer | None = None


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
