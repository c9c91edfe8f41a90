"""C sources compiled on first use for this CPU and loaded with ctypes (the native CPU kernels).

Built with the system's C compiler (`$CC`, else gcc or cc, with OpenMP and `-march=native`) into a cache folder
(`$MODRWKV_CACHE`, else ~/.cache/modrwkv), keyed by the source, the compiler and this CPU's instruction sets, so a
copied cache never runs on a CPU it was not built for. OpenMP resolves to the libgomp PyTorch has loaded, so the
kernels share its threads. Where a source cannot be built (no compiler, an instruction set it needs is missing) its
callers use PyTorch instead; `MODRWKV_NATIVE=0` chooses that too (for comparisons).
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def _cpu_flags() -> str:
    try:
        return next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return platform.processor()


def _cache_dir() -> Path:
    if os.environ.get("MODRWKV_CACHE"):
        return Path(os.environ["MODRWKV_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "modrwkv"


def _build(compiler: str, source: Path, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        cmd = [compiler, "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", str(source), "-o", str(out), "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            log.warning("native CPU kernels not built (%s); using PyTorch's: %s", " ".join(cmd), done.stderr[-500:])
            return False
        out.replace(target)  # atomic: another process may be building the same file
    return True


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC") or "gcc") or shutil.which("cc")


def _with_headers(source: Path) -> list[Path]:
    """`source` and the headers it includes by quoted path, theirs too: what a build of it reads."""
    files, todo = [], [source.resolve()]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.append(path)
        for line in path.read_text().splitlines():
            match = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if match:
                todo.append((path.parent / match.group(1)).resolve())
    return files


def cached_path(source: Path) -> Path:
    """Where `source`'s build for this compiler and CPU is cached (keyed by its headers' contents too)."""
    key = b"".join(f.read_bytes() for f in _with_headers(source)) + str(_compiler()).encode() + _cpu_flags().encode()
    return _cache_dir() / f"{source.stem}-{hashlib.sha256(key).hexdigest()[:16]}.so"


# (function name, argument types, result type) of each entry point a caller uses
Prototypes = tuple[tuple[str, tuple[type, ...], type | None], ...]


@functools.cache
def load(source: Path, prototypes: Prototypes = ()) -> ctypes.CDLL | None:
    """`source` compiled for this CPU (built once, then cached), its entry points typed by `prototypes`; or None
    where it cannot be built or is turned off."""
    if os.environ.get("MODRWKV_NATIVE", "1") == "0" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    compiler = _compiler()
    if compiler is None:
        log.warning("native CPU kernels need a C compiler (gcc or cc); using PyTorch's")
        return None
    target = cached_path(source)
    for attempt in range(2):  # a cached file that will not load (damaged, truncated) is built again once
        try:
            if not target.exists() and not _build(compiler, source, target):
                return None
            lib = ctypes.CDLL(str(target))
            for name, argtypes, restype in prototypes:
                getattr(lib, name).argtypes, getattr(lib, name).restype = list(argtypes), restype
            return lib
        except OSError as e:  # an unwritable cache folder or an unloadable file: PyTorch's kernels still work
            log.warning("native CPU kernels not loaded from %s (%s)%s", target, e,
                        "; building them again" if attempt == 0 else "; using PyTorch's")
            target.unlink(missing_ok=True)
    return None
