"""Frozen-encoder features, computed once per input and reused every epoch after (a run with `train.train_encoder`
encodes in every step instead, see trainer.batch_inputs).

"memory" keeps them in RAM; "disk" writes one safetensors file per input, named by a hash of the encoder's
architecture and weights and of the input (a file's path, size and modification time; a series window's values),
so a rerun (or another process) with the same encoder reads them back; "off" encodes every time. Each input is
encoded on its own, exactly as inference does (`ModRWKV.embed`).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from modrwkv.encoders.base import Encoder
from modrwkv.encoders.media import MediaError
from modrwkv.train.data import DataError
from modrwkv.train.samples import SeriesSample, TextSample


class FeatureCache:
    def __init__(self, encoder: Encoder, mode: str = "memory", folder: str | Path | None = None):
        if mode == "disk" and folder is None:
            raise ValueError("a disk feature cache needs a folder")
        self.encoder, self.mode = encoder, mode
        self.memory: dict[str, torch.Tensor] = {}
        self.folder = Path(folder) if mode == "disk" else None
        self.fingerprint = _fingerprint(encoder) if self.folder is not None else ""

    def __call__(self, samples: Sequence[TextSample | SeriesSample]) -> list[torch.Tensor]:
        """Features [L, D] (on the CPU) of each sample's input."""
        return [self._get(s) for s in samples]

    def _get(self, sample: TextSample | SeriesSample) -> torch.Tensor:
        if sample.key in self.memory:
            return self.memory[sample.key]
        file = self._file(sample)
        if file is not None and file.exists():
            from safetensors.torch import load_file

            return load_file(file)["features"]
        features = self._encode(sample)
        if self.mode == "memory":
            self.memory[sample.key] = features
        elif file is not None:
            from safetensors.torch import save_file

            file.parent.mkdir(parents=True, exist_ok=True)
            partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")  # atomic: processes may share the folder
            save_file({"features": features}, str(partial))
            os.replace(partial, file)
        return features

    def _encode(self, sample: TextSample | SeriesSample) -> torch.Tensor:
        try:
            return self.encoder.encode([sample.media])[0].float().cpu().contiguous()
        except MediaError as e:
            raise DataError(f"{sample.where}: {e}") from None

    def _file(self, sample: TextSample | SeriesSample) -> Path | None:
        if self.folder is None:
            return None
        key = sample.key
        if isinstance(sample.media, Path):  # an edited file gets new features
            stat = sample.media.stat()
            key += f"\0{stat.st_size}\0{stat.st_mtime_ns}"
        digest = hashlib.sha1(f"{self.fingerprint}\0{key}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.safetensors"


def fill_disk_cache(encoder: dict[str, Any], files: Sequence[Path], folder: Path, processes: int = 2) -> None:
    """Encode `files` (images or audio) into the disk cache `folder` before training, so that it never waits for the
    encoder: `processes` single-threaded processes, each taking every n-th file and building its own encoder from
    `encoder` (`name`, `source`, `options`, as a training config's model.encoder). On a CPU shared with other jobs,
    single-threaded processes beat one multi-threaded one: each of torch's parallel regions waits for its slowest
    thread."""
    paths = sorted({str(Path(f).absolute()) for f in files})
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_encode_into, [paths[i::processes] for i in range(processes)], [encoder] * processes,
                      [folder] * processes))


def _encode_into(paths: list[str], encoder: dict[str, Any], folder: Path) -> None:
    from modrwkv import encoders

    torch.set_num_threads(1)
    cache = FeatureCache(encoders.build(encoder["name"], encoder.get("source"), **encoder.get("options", {})), "disk",
                         folder)
    with torch.no_grad():
        cache([TextSample(Path(p), (), (), p) for p in paths])


def _fingerprint(encoder: Encoder) -> str:
    """A hash of the encoder's architecture and weights: cached features of another encoder are never reused."""
    h = hashlib.sha1(json.dumps({"name": encoder.name, **encoder.architecture()}, sort_keys=True, default=str).encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
