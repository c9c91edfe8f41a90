"""The app's allocator settings (app/allocator.py): on glibc, freed memory goes back to the system."""
from __future__ import annotations

import sys

import pytest

from app import allocator

glibc_only = pytest.mark.skipif(allocator._glibc() is None, reason="needs glibc's mallopt and malloc_trim")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@glibc_only
def test_trim_returns_freed_memory_to_the_system() -> None:
    blocks = [bytearray(100_000) for _ in range(2_000)]  # 200 MB in blocks below mmap's threshold: heap memory
    del blocks[::2]  # freed, but interleaved with live blocks: the heap cannot shrink from its top
    before = _rss_bytes()
    assert allocator.trim()
    assert _rss_bytes() < before - 50_000_000


def test_without_glibc_nothing_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert allocator.start_trimming() is None and not allocator.trim() and not allocator.limit_arenas()
