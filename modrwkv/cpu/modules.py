"""The RWKV-7 model's modules with their CPU fast paths: the same parameters and math as `modrwkv.rwkv7.model`, some
steps done by native kernels (`kernels/rwkv7/`) or merged products. `prepare_for_cpu` turns a loaded model's modules
into these; every fast path falls back to the plain step where it does not apply (gradients, another dtype).
"""
from __future__ import annotations

import ctypes

import torch

from kernels.rwkv7 import cpu_prompt
from modrwkv.cpu.fused_decode import FusedDecoder
from modrwkv.cpu.merged_projections import MAX_ROWS as MERGED_MAX_ROWS
from modrwkv.cpu.merged_projections import MergedProjections
from modrwkv.rwkv7.model import RWKV7, ChannelMix, TimeMix
from modrwkv.rwkv7.state import RWKVState


def usable(lib: ctypes.CDLL | None, x: torch.Tensor) -> ctypes.CDLL | None:
    """`lib` where it can take this input: fp32 on the CPU, no gradients; else None (PyTorch's operations)."""
    if lib is None or not x.is_cpu or x.dtype != torch.float32 or torch.is_grad_enabled():
        return None
    return lib


class CpuTimeMix(TimeMix):
    """TimeMix with a prompt's element-wise work in C (`native`, fp32 models) and, for fp16 matrices without the
    native decode step, a one-row step's projections as two merged products (`merged`)."""

    native: ctypes.CDLL | None = None
    merged: MergedProjections | None = None

    def token_mixes(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        if (lib := usable(self.native, x)) is None:
            return super().token_mixes(x, shift)
        return cpu_prompt.token_shift(lib, x, shift, self.mix_weights())

    def projections(self, mixes: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        n, B, T, C = mixes.shape
        if self.merged is None or B * T > MERGED_MAX_ROWS:
            return super().projections(mixes)
        return tuple(t.view(B, T, C) for t in self.merged(mixes.view(n, B * T, C)))

    def kernel_inputs(
        self, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor, v_first: torch.Tensor,
        v_lora: torch.Tensor | None,
    ) -> tuple[torch.Tensor, ...]:
        if (lib := usable(self.native, k)) is None:
            return super().kernel_inputs(w, k, v, a, v_first, v_lora)
        if self.layer_id == 0:  # no v mix (the merged projections give a v LoRA of zeros here)
            return cpu_prompt.attention_inputs(lib, self.n_head, (self.w0, self.a0, None), self.k_k, self.k_a,
                                               w, k, v, a, None, None)
        return cpu_prompt.attention_inputs(lib, self.n_head, (self.w0, self.a0, self.v0), self.k_k, self.k_a,
                                           w, k, v, a, v_first, v_lora)

    def gated_output(
        self, y: torch.Tensor, r: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor
    ) -> torch.Tensor:
        if (lib := usable(self.native, r)) is None:
            return super().gated_output(y, r, k, v, g)
        return cpu_prompt.attention_output(lib, self.ln_x.weight, self.ln_x.bias, self.r_k, y, r, k, v, g)


class CpuChannelMix(ChannelMix):
    """ChannelMix with the token shift in C (`native`, fp32 models)."""

    native: ctypes.CDLL | None = None

    def token_mix(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        if (lib := usable(self.native, x)) is None:
            return super().token_mix(x, shift)
        return cpu_prompt.token_shift(lib, x, shift, self.x_k)[0]


class CpuRWKV7(RWKV7):
    """RWKV7 whose one-token steps (no padding, no gradients) go through all layers in one native call
    (`fused_decoder`, for fp16, bf16 and int8 matrices) where it could be built."""

    fused_decoder: FusedDecoder | None = None

    def _forward_layers(
        self, embeds: torch.Tensor, state: RWKVState, mask: torch.Tensor | None, lengths: torch.Tensor | None,
        last_only: bool, hidden: bool,
    ) -> tuple[torch.Tensor, RWKVState]:
        if self.fused_decoder is None or embeds.shape[1] != 1 or mask is not None or torch.is_grad_enabled():
            return super()._forward_layers(embeds, state, mask, lengths, last_only, hidden)
        x, new_state = self.fused_decoder(embeds[:, 0], state)
        x = self.ln_out(x.to(self.dtype))
        return (x if hidden else self.fused_decoder.logits(x).to(self.dtype)).unsqueeze(1), new_state
