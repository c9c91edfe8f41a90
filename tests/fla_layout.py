"""Writes BlinkDL weights in the fla-hub / Hugging Face RWKV-7 layout, as fla's utils/convert_from_rwkv7.py does."""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors.torch import save_file

_TOP = {"emb.weight": "model.embeddings.weight", "ln_out.weight": "model.norm.weight",
        "ln_out.bias": "model.norm.bias", "head.weight": "lm_head.weight"}
_PART = {"att": "attn", "ffn": "ffn", "ln0": "pre_norm", "ln1": "attn_norm", "ln2": "ffn_norm"}
_PROJ = {"receptance": "r_proj", "key": "k_proj", "value": "v_proj", "output": "o_proj", "ln_x": "g_norm"}
_LORA = {"0": "2.bias", "1": "0.weight", "2": "2.weight"}


def to_fla(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in sd.items():
        if name in ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2"):
            continue
        if name in _TOP:
            out[_TOP[name]] = t.clone()
            continue
        _, i, part, *rest = name.split(".")
        rest = ".".join(rest)
        if part == "att" and re.fullmatch(r"[wvag][012]", rest):
            t = t.t() if rest[1] in "12" else t.reshape(-1)
            rest = f"{rest[0]}_lora.lora.{_LORA[rest[1]]}"
        elif part == "att" and rest.split(".")[0] in _PROJ:
            head, _, tail = rest.partition(".")
            rest = f"{_PROJ[head]}.{tail}"
        elif rest in ("k_k", "k_a") or (part == "ffn" and rest == "x_k"):
            t = t.reshape(-1)  # fla stores these as [C]; the x_r..x_g mixes stay [1, 1, C]
        out[f"model.layers.{i}.{_PART[part]}.{rest}"] = t.contiguous().clone()
    return out


def save_fla_folder(sd: dict[str, torch.Tensor], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(to_fla(sd), str(folder / "model.safetensors"))
    vocab, hidden = sd["emb.weight"].shape
    (folder / "config.json").write_text(json.dumps({"model_type": "rwkv7", "architectures": ["RWKV7ForCausalLM"],
                                                    "hidden_size": hidden, "vocab_size": vocab}))
    return folder
