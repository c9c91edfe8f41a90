"""Random RWKV-7 weights in BlinkDL's layout, scaled like a trained model so logits are far from trivial.

Used by tests (checkpoints written in the official layouts) and by benchmarks of named shapes.
"""
from __future__ import annotations

import torch

from modrwkv.rwkv7.config import RWKV7Config


def random_state_dict(config: RWKV7Config, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    C, V, F = config.n_embd, config.vocab_size, config.dim_ffn

    def normal(*shape: int, std: float = 1.0, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * std + mean

    def uniform(*shape: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        return torch.rand(*shape, generator=g) * (hi - lo) + lo

    sd = {"emb.weight": normal(V, C, std=0.5)}
    for i in range(config.n_layer):
        p = f"blocks.{i}."
        if i == 0:
            sd |= {p + "ln0.weight": normal(C, std=0.1, mean=1.0), p + "ln0.bias": normal(C, std=0.1)}
        for ln in ("ln1", "ln2"):
            sd |= {p + f"{ln}.weight": normal(C, std=0.1, mean=1.0), p + f"{ln}.bias": normal(C, std=0.1)}
        a = p + "att."
        for m in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
            sd[a + m] = uniform(1, 1, C)
        for name, rank, std0, mean0 in (
            ("w", config.decay_rank, 1.5, -2.0), ("a", config.a_rank, 0.5, 0.0), ("v", config.v_rank, 0.5, 0.5)
        ):
            sd[a + name + "0"] = normal(1, 1, C, std=std0, mean=mean0)
            sd[a + name + "1"] = normal(C, rank, std=0.5 / C**0.5)
            sd[a + name + "2"] = normal(rank, C, std=0.5 / rank**0.5)
        sd[a + "g1"] = normal(C, config.gate_rank, std=1.0 / C**0.5)
        sd[a + "g2"] = normal(config.gate_rank, C, std=1.0 / config.gate_rank**0.5)
        sd[a + "k_k"] = normal(1, 1, C, std=0.1, mean=0.85)
        sd[a + "k_a"] = normal(1, 1, C, std=0.1, mean=1.0)
        sd[a + "r_k"] = normal(config.n_head, config.head_size, std=0.1)
        for m in ("receptance", "key", "value", "output"):
            sd[a + m + ".weight"] = normal(C, C, std=1.0 / C**0.5)
        sd[a + "ln_x.weight"] = normal(C, std=0.1, mean=1.0)
        sd[a + "ln_x.bias"] = normal(C, std=0.1)
        sd[p + "ffn.x_k"] = uniform(1, 1, C)
        sd[p + "ffn.key.weight"] = normal(F, C, std=1.0 / C**0.5)
        sd[p + "ffn.value.weight"] = normal(C, F, std=0.5 / F**0.5)
    sd |= {"ln_out.weight": normal(C, std=0.1, mean=1.0), "ln_out.bias": normal(C, std=0.1)}
    sd["head.weight"] = normal(V, C, std=2.0 / C**0.5)
    return sd
