"""Files the app writes for visitors to download (transcripts, subtitles, forecast tables).

Gradio serves its own copy of each returned file from its cache, which `delete_cache` ages out (see app.py), so an
original is needed only until its event returns: each is removed once older than MAX_AGE_SECONDS, when a later one
is made and by a sweeper thread (`start_sweeping`), so that neither a busy nor an idle server keeps them.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(tempfile.gettempdir()) / "modrwkv-downloads"
MAX_AGE_SECONDS = 60.0  # Gradio has copied a returned file long before this
SWEEP_SECONDS = 60.0


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


def start_sweeping(every: float = SWEEP_SECONDS, max_age: float = MAX_AGE_SECONDS) -> threading.Event:
    """Sweep every `every` seconds in a daemon thread until the returned event is set."""
    stop = threading.Event()

    def sweep_until_stopped() -> None:
        while not stop.wait(every):
            sweep(max_age)

    threading.Thread(target=sweep_until_stopped, name="downloads-sweeper", daemon=True).start()
    return stop
