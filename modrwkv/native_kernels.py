"""The CPU decode step of `native_kernels.c`, compiled on first use for this CPU and loaded with ctypes.

Built with the system's C compiler (`$CC`, else gcc or cc, with OpenMP and `-march=native`) into a cache folder
(`$MODRWKV_CACHE`, else ~/.cache/modrwkv), keyed by the source, the compiler and this CPU's instruction sets, so a
copied cache never runs on a CPU it was not built for. Where it cannot be built (no compiler, no AVX2/F16C/FMA) the
models decode with PyTorch's kernels instead; `MODRWKV_NATIVE=0` chooses that too (for comparisons).
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("native_kernels.c")
TILE_ROWS = 16  # a matrix is stored in tiles of sixteen rows, column by column


class Layer(ctypes.Structure):
    """One layer's tensors as the decode step reads them (names as in native_kernels.c)."""

    VECTORS = ("ln1_w", "ln1_b", "ln2_w", "ln2_b", "mix", "w0", "a0", "v0", "k_k", "k_a", "r_k", "lnx_w", "lnx_b", "ffn_mix")
    MATRICES = ("Wr", "Wk", "Wv", "Wo", "w1", "a1", "v1", "g1", "w2", "a2", "v2", "g2", "Fk", "Fv")
    _fields_ = [(name, ctypes.c_void_p) for name in VECTORS + MATRICES]


class Model(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in ("L", "C", "H", "N", "F", "Dw", "Da", "Dv", "Dg")] + [
        ("ln0_w", ctypes.c_void_p), ("ln0_b", ctypes.c_void_p), ("layers", ctypes.POINTER(Layer))
    ]


def _cpu_flags() -> str:
    try:
        return next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return platform.processor()


def _cache_dir() -> Path:
    if os.environ.get("MODRWKV_CACHE"):
        return Path(os.environ["MODRWKV_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "modrwkv"


def _build(compiler: str, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        cmd = [compiler, "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", str(SOURCE), "-o", str(out), "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            log.warning("native CPU kernels not built (%s); using PyTorch's: %s", " ".join(cmd), done.stderr[-500:])
            return False
        out.replace(target)  # atomic: another process may be building the same file
    return True


@functools.cache
def library() -> ctypes.CDLL | None:
    """The kernels for this CPU (built once, then cached), or None where they cannot be built or are turned off."""
    if os.environ.get("MODRWKV_NATIVE", "1") == "0" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    compiler = shutil.which(os.environ.get("CC") or "gcc") or shutil.which("cc")
    if compiler is None:
        log.warning("native CPU kernels need a C compiler (gcc or cc); using PyTorch's")
        return None
    tag = hashlib.sha256(SOURCE.read_bytes() + compiler.encode() + _cpu_flags().encode()).hexdigest()[:16]
    target = _cache_dir() / f"native_kernels-{tag}.so"
    try:
        if not target.exists() and not _build(compiler, target):
            return None
    except OSError as e:  # an unwritable cache folder: PyTorch's kernels still work
        log.warning("native CPU kernels not built (%s); using PyTorch's", e)
        return None
    lib = ctypes.CDLL(str(target))
    lib.rwkv7_decode.argtypes = [ctypes.POINTER(Model), ctypes.c_int] + [ctypes.c_void_p] * 7
    lib.rwkv7_decode.restype = ctypes.c_int
    return lib


def tileable(rows: int) -> bool:
    return rows % TILE_ROWS == 0


def tile(weight: torch.Tensor) -> torch.Tensor:
    """[rows, K] -> fp16 tiles of sixteen rows stored column by column, [rows / 16, K, 16]: each thread of a product
    reads one sequential stream, and each widened column serves every sequence of a batch."""
    rows, K = weight.shape
    return weight.detach().half().reshape(rows // TILE_ROWS, TILE_ROWS, K).transpose(1, 2).contiguous()

