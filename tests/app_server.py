"""The app served on a free local port, as `python app.py` serves it, for tests that drive it from outside."""
from __future__ import annotations

import runpy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app(mcp: bool = False) -> Iterator[str]:
    """The app's URL while it serves."""
    port = free_port()
    demo = runpy.run_path(str(ROOT / "app.py"))["serve"](port=port, mcp=mcp, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
