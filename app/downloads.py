"""Files the app writes for visitors to download (transcripts, subtitles, forecast tables).

Gradio serves its own copy of each returned file from its cache, which `delete_cache` ages out (see app.py), so an
original is needed only until its event returns: each is removed once older than MAX_AGE_SECONDS, when a later one
is made, and a long-running server's disk does not fill.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.gettempdir()) / "modrwkv-downloads"
MAX_AGE_SECONDS = 600.0


def new_file(name: str) -> Path:
    """A fresh path named `name` (in a folder of its own, so that visitors' files never collide)."""
    sweep()
    ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=ROOT)) / name


def sweep(max_age: float = MAX_AGE_SECONDS) -> int:
    """Remove the files made more than `max_age` seconds ago; returns how many folders went."""
    if not ROOT.is_dir():
        return 0
    cutoff, removed = time.time() - max_age, 0
    for folder in ROOT.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # another request swept it first
            continue
    return removed
