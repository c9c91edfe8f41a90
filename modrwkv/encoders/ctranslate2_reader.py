"""Read a CTranslate2 `model.bin` into torch tensors.

Hand-written because no library reads this format into tensors: `ctranslate2` itself only loads it
into its C++ runtime. The layout is the one `ctranslate2/specs/model_spec.py` (`_serialize`) writes
and `src/models/model.cc` reads, in native byte order (little-endian wherever CTranslate2 runs):

    u32 binary version; str spec name; u32 spec revision; u32 n_variables
    n_variables x (str name; u8 rank; rank x u32 dim; u8 dtype id; u32 n_bytes; n_bytes of data)
    u32 n_aliases; n_aliases x (str alias; str target)

where `str` is a u16 length (counting a trailing NUL) followed by that many bytes.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

# Versions 4-6 share this layout: model.cc's reader branches only on versions 2, 3 (aliases) and 4 (dtype ids).
SUPPORTED_BINARY_VERSIONS = range(4, 7)
# Indexed by CTranslate2's `DataType` enum (include/ctranslate2/types.h).
DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.int8, torch.int16, torch.int32, torch.float16, torch.bfloat16)


class CTranslate2FormatError(ValueError):
    """`model.bin` is not a CTranslate2 model this reader understands; the message names the file."""


@dataclass(frozen=True)
class CTranslate2Model:
    """The spec (e.g. "WhisperSpec"), its revision, and every variable by name, aliases included."""

    spec: str
    revision: int
    variables: dict[str, torch.Tensor]


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.offset = data, path, 0

    def take(self, n: int, what: str) -> memoryview:
        if self.offset + n > len(self.data):
            raise CTranslate2FormatError(
                f"{self.path}: truncated ({len(self.data)} bytes): {what} needs bytes {self.offset}..{self.offset + n}"
            )
        chunk = memoryview(self.data)[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def uint(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        length = self.uint("H", what)
        return bytes(self.take(length, what)).rstrip(b"\0").decode("utf-8")


def read_ctranslate2(path: str | os.PathLike) -> CTranslate2Model:
    """The variables of `path` (a `model.bin`, or the folder holding one) as CPU tensors in their stored dtype."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    cursor = _Cursor(path.read_bytes(), path)

    version = cursor.uint("I", "the binary version")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise CTranslate2FormatError(
            f"{path}: binary version {version} is not a supported CTranslate2 format (expected "
            f"{SUPPORTED_BINARY_VERSIONS.start}..{SUPPORTED_BINARY_VERSIONS.stop - 1}); not a CTranslate2 model.bin?"
        )
    spec = cursor.string("the spec name")
    revision = cursor.uint("I", "the spec revision")

    variables: dict[str, torch.Tensor] = {}
    for _ in range(cursor.uint("I", "the variable count")):
        name = cursor.string("a variable name")
        shape = [cursor.uint("I", f"the shape of '{name}'") for _ in range(cursor.uint("B", f"the rank of '{name}'"))]
        type_id = cursor.uint("B", f"the dtype of '{name}'")
        if type_id >= len(DTYPES):
            raise CTranslate2FormatError(f"{path}: variable '{name}' has unsupported dtype id {type_id}")
        dtype = DTYPES[type_id]
        n_bytes = cursor.uint("I", f"the size of '{name}'")
        expected = dtype.itemsize * torch.Size(shape).numel()
        if n_bytes != expected:
            raise CTranslate2FormatError(f"{path}: '{name}' holds {n_bytes} bytes, its shape {shape} needs {expected}")
        # bytearray: torch.frombuffer wants a writable, non-empty buffer, and the copy frees the file's bytes.
        data = bytearray(cursor.take(n_bytes, f"the data of '{name}'"))
        variables[name] = (torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)).reshape(shape)

    for _ in range(cursor.uint("I", "the alias count")):
        alias, target = cursor.string("an alias"), cursor.string("an alias target")
        if target not in variables:
            raise CTranslate2FormatError(f"{path}: alias '{alias}' points to unknown variable '{target}'")
        variables[alias] = variables[target]
    return CTranslate2Model(spec, revision, variables)
