"""The RNN state of RWKV-7: all a conversation needs to continue, of a size fixed by the model, not by its length."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from modrwkv.rwkv7.config import RWKV7Config


@dataclass
class RWKVState:
    """Per layer: the token-shift inputs of time mix and channel mix, and the fp32 WKV matrices.

    att_shift, ffn_shift: [L, B, C] in the model's dtype; wkv: [L, B, H, N, N] fp32 (value x key).
    """

    att_shift: torch.Tensor
    ffn_shift: torch.Tensor
    wkv: torch.Tensor

    @classmethod
    def zeros(
        cls, config: RWKV7Config, batch_size: int, dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> RWKVState:
        L, C, H, N = config.n_layer, config.n_embd, config.n_head, config.head_size
        return cls(
            att_shift=torch.zeros(L, batch_size, C, dtype=dtype, device=device),
            ffn_shift=torch.zeros(L, batch_size, C, dtype=dtype, device=device),
            wkv=torch.zeros(L, batch_size, H, N, N, dtype=torch.float32, device=device),
        )

    @property
    def batch_size(self) -> int:
        return self.wkv.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes held for the whole batch; constant in the number of tokens processed."""
        return sum(t.numel() * t.element_size() for t in (self.att_shift, self.ffn_shift, self.wkv))

    def clone(self) -> RWKVState:
        return RWKVState(self.att_shift.clone(), self.ffn_shift.clone(), self.wkv.clone())

    def select(self, rows: list[int] | torch.Tensor) -> RWKVState:
        """The state of some sequences of the batch (a copy), in the order given."""
        idx = torch.as_tensor(rows, dtype=torch.long, device=self.wkv.device)
        return RWKVState(self.att_shift[:, idx], self.ffn_shift[:, idx], self.wkv[:, idx])

    def put(self, rows: list[int], part: RWKVState) -> None:
        """Write the state of some sequences back into this batch, in place."""
        for mine, theirs in zip((self.att_shift, self.ffn_shift, self.wkv), (part.att_shift, part.ffn_shift, part.wkv)):
            mine[:, rows] = theirs

    @classmethod
    def cat(cls, states: list[RWKVState]) -> RWKVState:
        """One batch from several states (e.g. several conversations decoded together)."""
        if not states:
            raise ValueError("RWKVState.cat needs at least one state")
        return cls(
            torch.cat([s.att_shift for s in states], dim=1),
            torch.cat([s.ffn_shift for s in states], dim=1),
            torch.cat([s.wkv for s in states], dim=1),
        )

    def to(self, device: torch.device | str) -> RWKVState:
        return RWKVState(self.att_shift.to(device), self.ffn_shift.to(device), self.wkv.to(device))
