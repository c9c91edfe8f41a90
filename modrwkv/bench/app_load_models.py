"""`app-load --backbone SHAPE`: the bundled chat and speech models with a language model of a published size.

The bundled defaults' backbones are 64 wide, and their answers a few tokens: a server spends its time in the encoders
and the web stack, not in decoding. A host serving a published checkpoint decodes with a 0.1B-2.9B backbone, answers
of dozens of tokens. These copies keep each bundle's encoder, adapter layout, prompt format and decoding settings,
with a random-weight backbone of SHAPE (and a fresh adapter for its width): the answers mean nothing and run to
their length limits, but the work per token is a published model's. Its output head is scaled up so that its
next-token distributions are as peaked as a trained model's (top token ~0.4, top-p 0.3 within a few tokens): the
random head's are flat (top-p 0.3 spans ~350 tokens), which would make sampling a cost no real model has.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from modrwkv.bench.shapes import shape_config
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.adapter import ModalityAdapter
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.random_weights import random_state_dict

BUNDLED = Path(__file__).resolve().parents[2] / "assets" / "models"
MODALITIES = {"/chat": "image", "/transcribe": "audio"}  # the model each endpoint the visitors ask is served by
HEAD_SCALE = 3.0  # random 0.1B logits' std 2 -> 6: median top-token probability 0.43, top-p 0.3 within 1-4 tokens


def bundled_for(modality: str, models_dir: Path = BUNDLED) -> Path:
    """The bundled model folder that reads `modality`."""
    for config in sorted(models_dir.glob("*/config.json")):
        if modality in json.loads(config.read_text()).get("modalities", {}):
            return config.parent
    raise FileNotFoundError(f"no bundled model in {models_dir} reads {modality}")


def with_backbone(bundle: Path, shape: str, folder: Path, seed: int = 0) -> Path:
    """A copy of `bundle` in `folder` whose backbone has random weights of `shape` (a `modrwkv.bench.shapes`
    name), stored in bf16; returns its folder."""
    model = ModRWKV.from_pretrained(bundle, dtype="fp32", pack_weights=False)
    torch.manual_seed(seed)
    weights = random_state_dict(shape_config(shape), seed=seed)
    weights["head.weight"] = weights["head.weight"] * HEAD_SCALE
    llm = RWKV7.from_state_dict(weights, dtype="fp32", pack_weights=False)
    adapters = {m: ModalityAdapter(dataclasses.replace(a.config, out_dim=llm.config.n_embd))
                for m, a in model.adapters.items()}
    c = model.config
    copy = ModRWKV(llm, dict(model.encoders), adapters, c.placement, c.placeholder_id, generation=c.generation,
                   turn_end=c.turn_end, chat_template=c.chat_template)
    out = folder / f"{bundle.name}-{shape}"
    copy.save_pretrained(out, dtype=torch.bfloat16, encoder_dtype=torch.float32, self_contained=True)
    return out
