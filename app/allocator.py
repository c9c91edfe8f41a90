"""glibc's allocator told to hand memory back, so a long-serving app's resident memory follows its load.

Gradio runs each request on one of many worker threads. glibc gives each thread that allocates its own arena (up to
8 per core) and keeps what a request frees in that arena for the next one, so every thread that ever served a model
call holds its own high-water mark of tensors: resident memory then climbs with the number of threads used, not with
the work. Fewer arenas share the freed memory between threads, and a periodic `malloc_trim` returns free pages to
the system. Elsewhere than glibc (macOS, musl, Windows) both are left out: nothing here is needed for correctness.
"""
from __future__ import annotations

import ctypes
import sys
import threading

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2
TRIM_SECONDS = 10.0  # often enough that the pages a burst of requests freed go back soon after it


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl (Alpine) names it otherwise and has neither call
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas from now on (the environment's MALLOC_ARENA_MAX, set at run time); False where
    the C library is not glibc."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Free memory in every arena back to the system; True when some was returned."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))


def start_trimming(every: float = TRIM_SECONDS) -> threading.Event | None:
    """`trim()` every `every` seconds on a daemon thread until the returned event is set; None without glibc."""
    libc = _glibc()
    if libc is None:
        return None
    stop = threading.Event()

    def trim_until_stopped() -> None:  # the library is looked up once, not at every trim
        while not stop.wait(every):
            libc.malloc_trim(0)

    threading.Thread(target=trim_until_stopped, name="malloc-trim", daemon=True).start()
    return stop
