"""The C sources are compiled once per source, compiler and CPU into a cache, and a damaged cache heals itself."""
from __future__ import annotations

import logging

import pytest

from kernels.rwkv7 import build, cpu_recurrence

pytestmark = pytest.mark.skipif(cpu_recurrence.library() is None, reason="needs a C compiler with OpenMP")


def test_a_build_is_cached_and_reused(monkeypatch, tmp_path, fresh_native_build):
    monkeypatch.setenv("MODRWKV_CACHE", str(tmp_path))
    assert cpu_recurrence.library() is not None
    built = list(tmp_path.glob("cpu_recurrence-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    build.load.cache_clear()
    assert cpu_recurrence.library() is not None
    assert built[0].stat().st_mtime_ns == stamp  # loaded, not built again


def test_a_damaged_cached_library_is_built_again(monkeypatch, tmp_path, caplog, fresh_native_build):
    monkeypatch.setenv("MODRWKV_CACHE", str(tmp_path))
    damaged = build.cached_path(cpu_recurrence.SOURCE)
    damaged.write_bytes(b"not a shared library")  # e.g. a disk that filled up while it was copied
    with caplog.at_level(logging.WARNING, logger="kernels.rwkv7.build"):
        lib = cpu_recurrence.library()
    assert lib is not None and hasattr(lib, "wkv7_forward")
    assert "building them again" in caplog.text


def test_editing_a_header_a_source_includes_changes_its_cache_key(tmp_path):
    (tmp_path / "lib").mkdir()
    source = tmp_path / "lib" / "step.c"
    source.write_text('#include <math.h>\n#include "../shared/step.h"\nfloat step(float x) { return f(x); }\n')
    (tmp_path / "shared").mkdir()
    header = tmp_path / "shared" / "step.h"
    header.write_text("static inline float f(float x) { return x; }\n")
    before = build.cached_path(source)
    header.write_text("static inline float f(float x) { return 2 * x; }\n")
    assert build.cached_path(source) != before
