"""Reading RWKV-7 weights from disk: BlinkDL `.pth`, safetensors, and the fla / Hugging Face key layout.

Everything is normalised to BlinkDL's names and shapes (the layout of every official release), so the
model has exactly one set of parameter names.
"""
from __future__ import annotations

import json
import pickle
import re
import zipfile
from pathlib import Path

import torch

from modrwkv.rwkv7.config import RWKV7Config

StateDict = dict[str, torch.Tensor]


class CheckpointError(ValueError):
    """A checkpoint that cannot be read as RWKV-7: says what was expected and what was found."""


# ---------------------------------------------------------------------------------------------
# reading files


def read_state_dict(path: str | Path) -> StateDict:
    """Tensors of a `.pth`/`.pt`/`.bin` file, a `.safetensors` file, or a folder holding either.

    Pickles are read with `weights_only=True`, so a file can never run code while loading.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        return _read_folder(path)
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    return _read_torch(path)


def _read_folder(folder: Path) -> StateDict:
    shards = sorted(folder.glob("*.safetensors"))
    if shards:
        index = folder / "model.safetensors.index.json"
        if index.exists():
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            missing = [n for n in names if not (folder / n).exists()]
            if missing:
                raise CheckpointError(f"{index} lists shards that are not in {folder}: {', '.join(missing)}")
            shards = [folder / n for n in names]
        state: StateDict = {}
        for shard in shards:
            state.update(_read_safetensors(shard))
        return state
    pickles = sorted(p for ext in ("*.pth", "*.pt", "*.bin") for p in folder.glob(ext))
    if len(pickles) == 1:
        return _read_torch(pickles[0])
    if not pickles:
        raise CheckpointError(f"{folder} holds no checkpoint: expected *.safetensors or one *.pth file")
    raise CheckpointError(
        f"{folder} holds several checkpoints ({', '.join(p.name for p in pickles)}): pass the path of one"
    )


def _read_safetensors(path: Path) -> StateDict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"could not read {path} as safetensors (truncated or not a safetensors file): {e}"
        ) from e


def _read_torch(path: Path) -> StateDict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as e:
        if "global" in str(e):  # torch names the class or function that weights_only refused to import
            raise CheckpointError(
                f"{path} contains Python objects other than tensors; it is refused because loading it could run "
                f"code: {e}"
            ) from e
        raise CheckpointError(f"could not read {path} as a PyTorch checkpoint (not a .pth file)") from e
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as e:  # KeyError: a text file
        raise CheckpointError(
            f"could not read {path} as a PyTorch checkpoint (truncated or not a .pth file): {e}"
        ) from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors (found {type(obj).__name__})")
    return obj


# ---------------------------------------------------------------------------------------------
# key layouts

_OTHER_ARCHITECTURES = [  # (pattern of a key, what it belongs to)
    (r"(^|\.)blocks\.0\.att\.time_faaaa$", "RWKV-5 (x052)"),
    (r"(^|\.)blocks\.0\.att\.time_maa_x$", "RWKV-6 (x060)"),
    (r"(^|\.)blocks\.0\.att\.time_first$", "RWKV-4"),
    (r"(^|\.)blocks\.0\.att\.time_decay$", "RWKV-4/5/6"),
    (r"(^|\.)h\.0\.attn\.c_attn\.weight$", "GPT-2"),
    (r"(^|\.)layers\.0\.self_attn\.q_proj\.weight$", "a Llama/Qwen-style Transformer"),
    (r"(^|\.)layers\.0\.attn\.x_x$", "RWKV-6 in fla layout"),
]

_EXPECTED = (
    "an RWKV-7 (x070) checkpoint: BlinkDL keys 'emb.weight', 'blocks.N.att.r_k', ... "
    "or fla/HF keys 'model.embeddings.weight', 'model.layers.N.attn.r_k', ..."
)

_FLA_PROJ = {"r_proj": "receptance", "k_proj": "key", "v_proj": "value", "o_proj": "output", "g_norm": "ln_x"}
_FLA_NORM = {"pre_norm": "ln0", "attn_norm": "ln1", "ffn_norm": "ln2"}
_FLA_LORA = {"0.weight": "1", "2.weight": "2", "2.bias": "0"}  # w_lora.lora.2.bias is w0, ...


def to_blinkdl(state: StateDict) -> StateDict:
    """The RWKV-7 backbone's tensors under BlinkDL's names and shapes.

    Accepts BlinkDL keys, optionally under a prefix (`llm.`, `model.llm.`), or the fla/HF layout.
    Raises CheckpointError naming the architecture it found when the file is not RWKV-7.
    """
    blink = [k for k in state if re.search(r"(^|\.)blocks\.0\.att\.r_k$", k)]
    fla = [k for k in state if re.search(r"(^|\.)layers\.0\.attn\.r_k$", k)]
    if blink:
        prefix = blink[0][: -len("blocks.0.att.r_k")]
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if fla:
        return _fla_to_blinkdl(state, fla[0][: -len("layers.0.attn.r_k")])
    for pattern, name in _OTHER_ARCHITECTURES:
        hit = next((k for k in state if re.search(pattern, k)), None)
        if hit:
            raise CheckpointError(f"expected {_EXPECTED}; found {name} weights (key '{hit}')")
    sample = ", ".join(f"'{k}'" for k in list(state)[:5]) or "no tensors"
    raise CheckpointError(f"expected {_EXPECTED}; found {len(state)} tensors with other names ({sample}, ...)")


def _fla_to_blinkdl(state: StateDict, prefix: str) -> StateDict:
    head = [k for k in state if k.endswith("lm_head.weight")]
    top = {
        f"{prefix}embeddings.weight": "emb.weight", f"{prefix}norm.weight": "ln_out.weight",
        f"{prefix}norm.bias": "ln_out.bias",
    }
    if head:
        top[head[0]] = "head.weight"
    out: StateDict = {}
    layer_key = re.compile(re.escape(prefix) + r"layers\.(\d+)\.(\w+)\.(.+)$")
    for key, t in state.items():
        if key in top:
            out[top[key]] = t
            continue
        m = layer_key.match(key)
        if not m:
            continue
        i, part, rest = m.groups()
        if part in _FLA_NORM:
            out[f"blocks.{i}.{_FLA_NORM[part]}.{rest}"] = t
        elif part == "ffn":
            out[f"blocks.{i}.ffn.{rest}"] = t.reshape(1, 1, -1) if rest == "x_k" else t
        elif part == "attn":
            name, _, tail = rest.partition(".")
            lora = re.fullmatch(r"([wavg])_lora\.lora\.(\d\.(?:weight|bias))", rest)
            if lora:
                letter, which = lora.groups()
                num = _FLA_LORA[which]
                out[f"blocks.{i}.att.{letter}{num}"] = t.reshape(1, 1, -1) if num == "0" else t.t()
            elif name in _FLA_PROJ:
                out[f"blocks.{i}.att.{_FLA_PROJ[name]}.{tail}"] = t
            elif name in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "k_k", "k_a"):
                out[f"blocks.{i}.att.{name}"] = t.reshape(1, 1, -1)
            else:
                out[f"blocks.{i}.att.{rest}"] = t
    return out


# ---------------------------------------------------------------------------------------------
# dimensions


def infer_config(state: StateDict) -> RWKV7Config:
    """Dimensions read off BlinkDL-named tensors; CheckpointError when a needed tensor is missing."""

    def need(key: str) -> torch.Tensor:
        if key not in state:
            raise CheckpointError(f"RWKV-7 checkpoint is missing '{key}' (truncated or partial checkpoint?)")
        return state[key]

    layers = {int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))}
    if not layers:
        raise CheckpointError(f"expected {_EXPECTED}; found no 'blocks.N.' keys")
    n_layer = max(layers) + 1
    missing_layers = sorted(set(range(n_layer)) - layers)
    if missing_layers:
        raise CheckpointError(f"RWKV-7 checkpoint has no tensors for layers {missing_layers} of {n_layer}")
    n_head, head_size = need("blocks.0.att.r_k").shape
    vocab_size, n_embd = need("emb.weight").shape
    return RWKV7Config(
        vocab_size=vocab_size,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        head_size=head_size,
        dim_ffn=need("blocks.0.ffn.key.weight").shape[0],
        decay_rank=need("blocks.0.att.w1").shape[1],
        a_rank=need("blocks.0.att.a1").shape[1],
        v_rank=need("blocks.1.att.v1").shape[1] if n_layer > 1 else 32,
        gate_rank=need("blocks.0.att.g1").shape[1],
    )
