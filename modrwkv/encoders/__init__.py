"""Modality encoders by name: `available()` lists them, `build(name, source)` makes one.

Adding a modality means adding a module with an `Encoder` subclass decorated with `@register` and
importing it at the bottom of this file. transformers is imported only when an encoder is built,
so importing this package (e.g. to list the names in a UI) stays fast.
"""
from __future__ import annotations

import os
from typing import Any, TypeVar

from modrwkv.encoders.base import Encoder

_REGISTRY: dict[str, type[Encoder]] = {}
E = TypeVar("E", bound=type[Encoder])


def register(cls: E) -> E:
    """Class decorator: make `cls` buildable by its `name`."""
    if cls.modality not in ("image", "audio", "series"):
        raise ValueError(f"encoder '{cls.name}' has unknown modality '{cls.modality}'")
    if _REGISTRY.get(cls.name, cls) is not cls:
        raise ValueError(f"encoder name '{cls.name}' is already taken by {_REGISTRY[cls.name].__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """The registered encoder names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> type[Encoder]:
    """The encoder class registered as `name`."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown encoder '{name}'; available: {', '.join(available())}")
    return _REGISTRY[name]


def build(name: str, source: str | os.PathLike | None = None, **options: Any) -> Encoder:
    """Encoder `name` with weights from `source` (a Hugging Face repo id, a local folder, or "packaged:<name>" for
    weights a pip package ships, see `modrwkv.encoders.packaged`), or random weights from a small default config
    when `source` is None. `options` go to `from_pretrained` or `random`.
    """
    cls = get(name)
    if source is None:
        return cls.random(**options)
    encoder = cls.from_pretrained(_resolve_packaged(source), **options)
    encoder.source = str(source)
    return encoder


PACKAGED = "packaged:"


def _resolve_packaged(source: str | os.PathLike) -> str | os.PathLike:
    """"packaged:<name>" names a function of `modrwkv.encoders.packaged` (weights a pip package ships), so that a
    checkpoint can refer to them portably; any other source is returned as is."""
    if not (isinstance(source, str) and source.startswith(PACKAGED)):
        return source
    from modrwkv.encoders import packaged

    name = source[len(PACKAGED):]
    if name not in packaged.AVAILABLE:
        raise ValueError(f"unknown packaged weights '{name}'; available: {', '.join(packaged.AVAILABLE)}")
    return getattr(packaged, name)()


# The built-ins register themselves on import (after `register` exists, which they use).
from modrwkv.encoders import clip, dinov2, hubert, siglip2, wavenet, wavlm, whisper  # noqa: E402,F401

__all__ = ["Encoder", "available", "build", "get", "register"]
