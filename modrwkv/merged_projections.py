"""A time-mix layer's input projections as two matrix products, for decoding on a CPU.

Each decoded token multiplies the layer's six token-shift mixes by their own matrices: r, k, v (C x C) and the LoRA
down-projections w1, a1, v1, g1, then the LoRA up-projections w2, a2, v2, g2: eleven products of one row by a small
matrix. On a CPU such a product reads its matrix far below the memory bandwidth when the matrix is small and cold (a
768 x 64 fp32 LoRA: ~90 us, 2 GB/s, on the 2-core EPYC measured here). So the six mixes, as six rows, are multiplied by
all the down-projection matrices stacked into one, and each row keeps its own block of the product: the same bytes in
one call, and a six-fold product that costs nothing at a few rows. The up-projections likewise, each input row zero
outside its own block. Above a few rows the wasted products cost more than the calls saved; the layer then uses its
separate matrices (which stay the model's weights: these merged copies are not in its state_dict).
"""
from __future__ import annotations

import torch
from torch import nn

from modrwkv.cpu_linear import Fp16Linear, PackedLinear

# Rows (batch x tokens) up to which the merged products are used; above, the layer's own matrices.
MAX_ROWS = 2

MIXES = ("r", "w", "k", "v", "a", "g")  # the order of TimeMix's token-shift mixes


# Layouts whose small products stream their matrix: fbgemm's fp16 and oneDNN's packed fp32/bf16. Not int8, whose
# x86 kernel is compute-bound at one row already (six rows would cost six times as much).
MERGEABLE = (Fp16Linear, PackedLinear)


def _same_format(layer: nn.Module, weight: torch.Tensor) -> nn.Module:
    """A Linear holding `weight` [out, in] in the layout of `layer` (one of MERGEABLE)."""
    if isinstance(layer, Fp16Linear):
        return Fp16Linear(weight)
    return PackedLinear(weight.to(layer.packed.dtype))


class MergedProjections:
    """r, k, v and the LoRA outputs of one TimeMix from its six mixes [6, rows, C], in two products.

    Not an nn.Module: the merged matrices are a layout of the layer's weights, not weights of their own.
    """

    def __init__(self, down: nn.Module, up: nn.Module, down_cols: dict[str, slice], up_rows: list[tuple[str, slice]]):
        self.down, self.up = down, up
        self.down_cols = down_cols  # output columns of the down product per projection
        self.up_rows = up_rows  # (LoRA, its rank block) in the order of the up product's input rows

    @classmethod
    def of(cls, att: nn.Module) -> "MergedProjections | None":
        """Merge `att`'s matrices in the layout of its Linear layers; None where that layout has no merged form."""
        if not isinstance(att.receptance, MERGEABLE):
            return None
        loras = [("w", att.w1, att.w2), ("a", att.a1, att.a2), ("v", getattr(att, "v1", None), getattr(att, "v2", None)),
                 ("g", att.g1, att.g2)]
        loras = [(name, down, up) for name, down, up in loras if down is not None]  # layer 0 has no v LoRA
        # down: one row of output columns per mix; the v mix feeds both the value matrix and the v LoRA
        blocks = {"r": att.receptance.weight, "k": att.key.weight, "v": att.value.weight}
        blocks.update({f"{name}1": down.t() for name, down, _ in loras})
        down_cols, start = {}, 0
        for name, block in blocks.items():
            down_cols[name] = slice(start, start + block.shape[0])
            start += block.shape[0]
        up_rows, start = [], 0
        for name, _, up in loras:
            up_rows.append((name, slice(start, start + up.shape[0])))
            start += up.shape[0]
        with torch.no_grad():
            down = _same_format(att.receptance, torch.cat([b.float() for b in blocks.values()]))
            up = _same_format(att.receptance, torch.cat([u.float() for _, _, u in loras]).t().contiguous())
        return cls(down, up, down_cols, up_rows)

    def __call__(self, mixes: torch.Tensor) -> dict[str, torch.Tensor]:
        """mixes [6, rows, C] in MIXES order -> {"r", "k", "v": [rows, C]; "w", "a", "v_lora", "g": LoRA outputs}.

        The LoRA outputs are before their biases: tanh(xw w1) w2, (xa a1) a2, (xv v1) v2, sigmoid(xg g1) g2."""
        n, rows, C = mixes.shape
        y = self.down(mixes.reshape(n * rows, C)).view(n, rows, -1)
        row = {name: y[i] for i, name in enumerate(MIXES)}
        out = {name: row[name][:, self.down_cols[name]] for name in ("r", "k", "v")}
        hidden = y.new_zeros(len(self.up_rows), rows, self.up.in_features)
        for i, (name, block) in enumerate(self.up_rows):
            h = row[name][:, self.down_cols[f"{name}1"]]
            hidden[i, :, block] = torch.tanh(h) if name == "w" else torch.sigmoid(h) if name == "g" else h
        lora = self.up(hidden.view(-1, hidden.shape[-1])).view(len(self.up_rows), rows, C)
        out.update({("v_lora" if name == "v" else name): lora[i] for i, (name, _) in enumerate(self.up_rows)})
        return out


def merge_projections(model: nn.Module) -> None:
    """Give every TimeMix of a CPU-packed model its merged projections (left None where its layout has none)."""
    for block in model.blocks:
        block.att.merged = MergedProjections.of(block.att)
