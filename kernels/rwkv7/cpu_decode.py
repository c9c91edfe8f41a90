"""The one-token RWKV-7 decode step of `cpu_decode.c` (fp16, bf16 or int8 matrices, fp32 math), compiled on first
use for this CPU (`build`), and the tiled matrix layout it reads.

Where it cannot be built (no compiler, no AVX2/F16C/FMA) callers use PyTorch's operations instead;
`MODRWKV_NATIVE=0` chooses that too (for comparisons).
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from kernels.rwkv7 import build

SOURCE = Path(__file__).with_name("cpu_decode.c")
TILE_ROWS = 16  # a matrix is stored in tiles of sixteen rows, column by column
HEAD_LANES = 8  # the per-head code (heads.h) works on eight channels at a time: head sizes must be a multiple of it
FORMATS = {torch.float16: 0, torch.bfloat16: 1, torch.int8: 2}  # the kernel's matrix formats (FP16, BF16, INT8)


class Layer(ctypes.Structure):
    """One layer's tensors as the decode step reads them (names as in cpu_decode.c)."""

    VECTORS = (
        "ln1_w", "ln1_b", "ln2_w", "ln2_b", "mix", "w0", "a0", "v0", "k_k", "k_a", "r_k", "lnx_w", "lnx_b", "ffn_mix"
    )
    MATRICES = ("Wr", "Wk", "Wv", "Wo", "w1", "a1", "v1", "g1", "w2", "a2", "v2", "g2", "Fk", "Fv")
    SCALES = ("Wr_s", "Wk_s", "Wv_s", "Wo_s", "Fk_s", "Fv_s")  # int8 matrices' row scales
    _fields_ = [(name, ctypes.c_void_p) for name in VECTORS + MATRICES + SCALES]


class Model(ctypes.Structure):
    INTS = ("L", "C", "H", "N", "F", "Dw", "Da", "Dv", "Dg", "fmt", "lora_fmt")  # sizes, then the formats
    _fields_ = [(name, ctypes.c_int) for name in INTS] + [
        ("ln0_w", ctypes.c_void_p), ("ln0_b", ctypes.c_void_p), ("layers", ctypes.POINTER(Layer))
    ]


PROTOTYPES = (
    ("rwkv7_decode", (ctypes.POINTER(Model), ctypes.c_int) + (ctypes.c_void_p,) * 7, ctypes.c_int),
    ("rwkv7_matvec", (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                      ctypes.c_int, ctypes.c_int), ctypes.c_int),
    ("rwkv7_bf16_pairs", (), ctypes.c_int),
)


def library() -> ctypes.CDLL | None:
    """The kernels for this CPU, or None where they cannot be built or are turned off (see `build`)."""
    return build.load(SOURCE, PROTOTYPES)


def tileable(rows: int) -> bool:
    return rows % TILE_ROWS == 0


def bf16_pairs(lib: ctypes.CDLL) -> bool:
    """Whether this build multiplies bf16 matrices a pair of columns at a time (CPUs with AVX512_BF16): then they are
    tiled with `pairs=True`, need an even number of columns, and their products take bf16-rounded inputs."""
    return bool(lib.rwkv7_bf16_pairs())


def tile(weight: torch.Tensor, pairs: bool = False) -> torch.Tensor:
    """[rows, K] -> tiles of sixteen rows stored column by column, [rows / 16, K, 16]: each thread of a product reads
    one sequential stream, and each widened column serves every sequence of a batch. bf16 and int8 weights keep
    their format, any other becomes fp16. `pairs` (bf16, K even): two columns at a time, [rows / 16, K / 2, 16, 2]."""
    rows, K = weight.shape
    dtype = weight.dtype if weight.dtype in (torch.bfloat16, torch.int8) else torch.float16
    tiles = weight.detach().to(dtype).reshape(rows // TILE_ROWS, TILE_ROWS, K)
    if pairs:
        return tiles.reshape(rows // TILE_ROWS, TILE_ROWS, K // 2, 2).transpose(1, 2).contiguous()
    return tiles.transpose(1, 2).contiguous()


def matvec(lib: ctypes.CDLL, tiled: torch.Tensor, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """x [B, K] -> x @ W^T [B, rows] for a `tile`d W (int8: times `scale`, fp32 [rows]), in fp32."""
    n, K = tiled.shape[0], tiled.shape[1] * (2 if tiled.dim() == 4 else 1)
    x = x.float().contiguous()
    y = torch.empty(x.shape[0], n * TILE_ROWS)
    rc = lib.rwkv7_matvec(tiled.data_ptr(), None if scale is None else scale.data_ptr(), n * TILE_ROWS, K,
                          x.data_ptr(), y.data_ptr(), x.shape[0], FORMATS[tiled.dtype])
    if rc != 0:
        raise MemoryError("the native vocabulary head could not allocate its scratch memory")
    return y
