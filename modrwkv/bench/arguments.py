"""Argument types the bench's subcommands share."""
from __future__ import annotations

import argparse

from modrwkv.bench.shapes import is_known, shape_names


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return int(text)


def shape_name(name: str) -> str:
    if not is_known(name):
        raise argparse.ArgumentTypeError(f"unknown shape '{name}'; choose from {', '.join(shape_names())}")
    return name
