"""Named RWKV-7 shapes for benchmarks with random weights (official widths and depths, head size 64)."""
from __future__ import annotations

from modrwkv.rwkv7.config import RWKV7Config

# name -> (n_layer, n_embd)
SHAPES: dict[str, tuple[int, int]] = {
    "0.1b": (12, 768),
    "0.4b": (24, 1024),
    "1.5b": (24, 2048),
    "2.9b": (32, 2560),
}
# Not listed in --help: a shape small enough for the test suite.
HIDDEN_SHAPES: dict[str, tuple[int, int]] = {"tiny": (2, 128)}
TINY = "tiny"


def shape_names() -> list[str]:
    """The shapes offered to users (hidden test shapes excluded)."""
    return list(SHAPES)


def is_known(name: str) -> bool:
    return name in SHAPES or name in HIDDEN_SHAPES


def shape_config(name: str) -> RWKV7Config:
    """The RWKV-7 config of a named shape; KeyError for an unknown name."""
    n_layer, n_embd = SHAPES[name] if name in SHAPES else HIDDEN_SHAPES[name]
    return RWKV7Config.shape(n_layer=n_layer, n_embd=n_embd, head_size=64, vocab_size=65536)
