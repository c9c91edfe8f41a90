"""RWKV-7 dimensions. Always read off a checkpoint's tensors, never written by hand by a user."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RWKV7Config:
    vocab_size: int
    n_embd: int
    n_layer: int
    n_head: int
    head_size: int
    dim_ffn: int
    decay_rank: int  # w1/w2
    a_rank: int  # a1/a2
    v_rank: int  # v1/v2 (layers >= 1)
    gate_rank: int  # g1/g2

    def __post_init__(self) -> None:
        if self.n_head * self.head_size != self.n_embd:
            raise ValueError(
                f"n_head * head_size must equal n_embd, got {self.n_head} * {self.head_size} != {self.n_embd}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def shape(cls, n_layer: int, n_embd: int, head_size: int = 64, vocab_size: int = 65536) -> RWKV7Config:
        """The official RWKV-7 layout for a width (LoRA ranks as in BlinkDL's RWKV-v7 train_temp/src/model.py)."""

        def rank(scale: float) -> int:
            return max(32, int(round(scale * n_embd**0.5 / 32) * 32))

        return cls(
            vocab_size=vocab_size,
            n_embd=n_embd,
            n_layer=n_layer,
            n_head=n_embd // head_size,
            head_size=head_size,
            dim_ffn=4 * n_embd,
            decay_rank=rank(2.5),
            a_rank=rank(2.5),
            v_rank=rank(1.7),
            gate_rank=rank(5.0),
        )
