"""The app served on a free local port, as `python app.py` serves it, for tests that drive it from outside."""
from __future__ import annotations

import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modrwkv.bench.app_load_server import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def served_app(mcp: bool = False, **options: Any) -> Iterator[tuple[str, Any]]:
    """The app's URL while it serves, and its Blocks; `options` go to `app.serve` (e.g. `delete_cache`)."""
    port = free_port()
    demo = runpy.run_path(str(ROOT / "app.py"))["serve"](port=port, mcp=mcp, block=False, **options)
    try:
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()
