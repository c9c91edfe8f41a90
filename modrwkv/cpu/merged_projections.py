"""A time-mix layer's input projections as two matrix products, for decoding on a CPU with fp16 weights.

Each decoded token multiplies the layer's six token-shift mixes by their own matrices: r, k, v (C x C) and the LoRA
down-projections w1, a1, v1, g1, then the LoRA up-projections w2, a2, v2, g2: eleven products of one row by a small
matrix. On a CPU such a product reads its matrix far below the memory bandwidth when the matrix is small and cold
(a 768 x 64 fp32 LoRA, say). So the six mixes, as six rows, are multiplied by all the down-projection matrices
stacked into one fp16 matrix, and each row keeps its own block of the product: the same bytes (fewer: the LoRAs in
fp16) in one call, and a six-fold product that costs little at one row. The up-projections likewise, each input row
zero outside its own block. The layer's own matrices stay its weights (these merged copies are not in its
state_dict) and serve everything but one-row steps.

Merging pays off for fp16 at one row only: at two rows it gains nothing (hence MAX_ROWS), and oneDNN's packed fp32
matrices get slower merged, so only fbgemm's fp16 ones are.
"""
from __future__ import annotations

import torch
from torch import nn

from modrwkv.cpu.linears import Fp16Linear
from modrwkv.rwkv7.model import LORAS

# Rows (batch x tokens) up to which the merged products are used; above, the layer's own matrices.
MAX_ROWS = 1



class MergedProjections:
    """r, k, v and the LoRA outputs of one TimeMix from its six mixes [6, rows, C], in two products.

    Not an nn.Module: the merged matrices are a layout of the layer's weights, not weights of their own.
    """

    def __init__(self, down: nn.Module, up: nn.Module, ranks: list[int]):
        self.down, self.up = down, up
        C = up.out_features
        # down's columns: r, k, v (C each), then the LoRA blocks; up's input: the LoRA blocks, in LORAS order
        self.loras = slice(3 * C, 3 * C + sum(ranks))
        ends = torch.tensor(ranks).cumsum(0)
        self.g_block = slice(int(ends[-2]), int(ends[-1]))
        blocks = torch.arange(sum(ranks))
        # row i of the up product's input keeps LoRA i's block of the down product and zeros elsewhere
        self.block_mask = torch.stack([(blocks >= end - rank) & (blocks < end) for rank, end in zip(ranks, ends)])
        self.block_mask = self.block_mask.float().unsqueeze(1)  # [4, 1, R]

    @classmethod
    def of(cls, att: nn.Module) -> MergedProjections | None:
        """Merge `att`'s matrices as fbgemm fp16 ones; None unless its Linear layers are (see the module docstring)."""
        if not isinstance(att.receptance, Fp16Linear):
            return None
        C = att.receptance.in_features
        # layer 0 has no v LoRA: a block of width 0
        downs = [getattr(att, f"{name}1", torch.zeros(C, 0)) for name in LORAS]
        ups = [getattr(att, f"{name}2", torch.zeros(0, C)) for name in LORAS]
        with torch.no_grad():
            rkv = (att.receptance.weight, att.key.weight, att.value.weight)
            down = torch.cat([m.float() for m in (*rkv, *(d.t() for d in downs))])
            up = torch.cat([u.float() for u in ups]).t().contiguous()
            return cls(Fp16Linear(down), Fp16Linear(up), [d.shape[1] for d in downs])

    def __call__(self, mixes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """mixes [6, rows, C] in MIXES order -> r, k, v, then the LoRA outputs before their biases: tanh(xw w1) w2,
        (xa a1) a2, (xv v1) v2 (zeros without a v LoRA), sigmoid(xg g1) g2; each [rows, C]."""
        n, rows, C = mixes.shape
        y = self.down(mixes.reshape(n * rows, C)).view(n, rows, -1)
        hidden = y[2:, :, self.loras] * self.block_mask
        hidden[0].tanh_()  # tanh(0) = 0: the zeros stay
        hidden[3, :, self.g_block].sigmoid_()
        w, a, v, g = self.up(hidden.view(-1, hidden.shape[-1])).view(len(LORAS), rows, C).unbind(0)
        return y[0, :, :C], y[1, :, C : 2 * C], y[4, :, 2 * C : 3 * C], w, a, v, g
