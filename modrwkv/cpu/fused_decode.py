"""A one-token step through all of an RWKV-7 model's layers in one native call (fp16, bf16 or int8 weights on an x86
CPU).

On a CPU with few cores eager PyTorch spends about as long dispatching a decode step's ~1,500 small operations as
streaming its weights; `cpu_decode.c` does the layers' work in one call, and matches the eager step up to fp32
rounding. It reads its own copy of the model's matrices, tiled for it: fbgemm's packed copies stay for prompts, which
fbgemm multiplies faster than MKL does after widening the tiles. The vocabulary head gets a tiled copy too (96 MiB for
the 0.1B shape): a step through it beats fbgemm's head, most at larger batches.
"""
from __future__ import annotations

import ctypes

import torch
from torch import nn

from kernels.rwkv7 import cpu_decode
from kernels.rwkv7.cpu_decode import Layer, Model
from modrwkv.cpu.linears import Fp16Linear
from modrwkv.rwkv7.model import LORAS, MIXES
from modrwkv.rwkv7.quantization import Int8Linear
from modrwkv.rwkv7.state import RWKVState


class FusedDecoder:
    """Embeddings [B, C] and a state in, the last layer's output [B, C] (fp32) and a new state (in the given state's
    dtypes) out; the given state is kept. The arithmetic is fp32 whatever the weights' format, except that bf16
    products take bf16-rounded inputs where the CPU has AVX512_BF16 (`cpu_decode.bf16_pairs`).

    Not an nn.Module: its tensors are a layout of the model's weights, not weights of their own.
    """

    def __init__(self, model: nn.Module, lib: ctypes.CDLL, fmt: torch.dtype):
        cfg = model.config
        self._lib = lib
        self._pairs = fmt == torch.bfloat16 and cpu_decode.bf16_pairs(lib)  # every matrix is bf16 then
        self._keep: list[torch.Tensor] = []  # every tensor the kernel points into stays alive with the decoder
        att1 = model.blocks[1].att if cfg.n_layer > 1 else None
        ranks = [getattr(model.blocks[0].att, f"{n}1").shape[1] for n in ("w", "a")]
        ranks += [att1.v1.shape[1] if att1 is not None else 0, model.blocks[0].att.g1.shape[1]]
        self._layers = (Layer * cfg.n_layer)()
        for i, block in enumerate(model.blocks):
            for name, t in self._layer_tensors(block).items():
                setattr(self._layers[i], name, None if t is None else self._hold(t))
        # a vocabulary that does not tile, or a head in another format, is multiplied by the model's own head
        native_head = cpu_decode.tileable(model.head.out_features) and _format(model.head) == fmt
        self._head, self._head_scale = _tiled(model.head, self._pairs) if native_head else (None, None)
        self._model_head = None if native_head else model.head
        ln0 = model.blocks[0].ln0
        lora_fmt = torch.bfloat16 if model.blocks[0].att.w1.dtype == torch.bfloat16 else torch.float16
        self._model = Model(
            cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.head_size, cfg.dim_ffn, *ranks,
            cpu_decode.FORMATS[fmt], cpu_decode.FORMATS[lora_fmt],
            self._hold(ln0.weight.detach().float()), self._hold(ln0.bias.detach().float()), self._layers,
        )

    @classmethod
    def of(cls, model: nn.Module) -> FusedDecoder | None:
        """The fused step for a CPU `model` whose matrices are fp16 (fbgemm's fp16 Linear layers), bf16 or int8, or
        None unless the native kernels are built and every layer's matrix tiles (rows a multiple of 16).

        The LoRAs are read in fp16 (in bf16 for a bf16 model): the fp32 LoRAs of fp16 and int8 models hold
        fp16-rounded values (the model's loader rounds them), so prompts compute with the same values."""
        fmt = _format(model.blocks[0].att.key)
        if fmt is None or model.config.head_size % cpu_decode.HEAD_LANES or model.device.type != "cpu":
            return None
        for block in model.blocks:
            att, ffn = block.att, block.ffn
            linears = (att.receptance, att.key, att.value, att.output, ffn.key, ffn.value)
            loras = [getattr(att, f"{n}{i}") for n in LORAS for i in (1, 2) if hasattr(att, f"{n}{i}")]
            if any(_format(m) != fmt or not cpu_decode.tileable(m.out_features) for m in linears):
                return None
            if not all(cpu_decode.tileable(m.shape[0]) and cpu_decode.tileable(m.shape[1]) for m in loras):
                return None
        lib = cpu_decode.library()  # built only for a model that can use it
        if lib is None:
            return None
        cfg = model.config
        if fmt == torch.bfloat16 and cpu_decode.bf16_pairs(lib) and (cfg.n_embd % 2 or cfg.dim_ffn % 2):
            return None  # pairs of columns need an even number of them (LoRA ranks tile, so they are even)
        return cls(model, lib, fmt)

    def _layer_tensors(self, block: nn.Module) -> dict[str, torch.Tensor | None]:
        att, ffn = block.att, block.ffn
        vec = lambda t: t.detach().float().reshape(-1)  # noqa: E731
        # LoRAs are used as x @ w1 [C, D]: tiled as [D, C] (rows = outputs), w2 [D, C] as [C, D]
        lora = lambda n: cpu_decode.tile(getattr(att, n).t(), self._pairs) if hasattr(att, n) else None  # noqa: E731
        mixes = att.mix_weights().detach().float().reshape(len(MIXES), -1)  # [6, C], the kernel's order too
        matrices = {"Wr": att.receptance, "Wk": att.key, "Wv": att.value, "Wo": att.output,
                    "Fk": ffn.key, "Fv": ffn.value}
        tiled = {name: _tiled(linear, self._pairs) for name, linear in matrices.items()}
        return {
            "ln1_w": vec(block.ln1.weight), "ln1_b": vec(block.ln1.bias), "ln2_w": vec(block.ln2.weight),
            "ln2_b": vec(block.ln2.bias), "mix": mixes, "w0": vec(att.w0), "a0": vec(att.a0),
            "v0": vec(att.v0) if hasattr(att, "v0") else None, "k_k": vec(att.k_k), "k_a": vec(att.k_a),
            "r_k": vec(att.r_k), "lnx_w": vec(att.ln_x.weight), "lnx_b": vec(att.ln_x.bias), "ffn_mix": vec(ffn.x_k),
            **{f"{n}{i}": lora(f"{n}{i}") for i in (1, 2) for n in LORAS},
            **{name: t for name, (t, _) in tiled.items()},
            **{f"{name}_s": scale for name, (_, scale) in tiled.items()},
        }

    def _hold(self, t: torch.Tensor) -> int:
        t = t.contiguous()
        self._keep.append(t)
        return t.data_ptr()

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The vocabulary head on final normalised states [B, C] -> [B, V]."""
        if self._head is None:
            return self._model_head(hidden)
        return cpu_decode.matvec(self._lib, self._head, hidden, self._head_scale)

    def __call__(self, embeds: torch.Tensor, state: RWKVState) -> tuple[torch.Tensor, RWKVState]:
        x = embeds.float().contiguous().clone()  # the kernel writes the layers' output over it
        ins = [t.float().contiguous() for t in (state.att_shift, state.ffn_shift, state.wkv)]
        out = [torch.empty_like(t) for t in ins]
        rc = self._lib.rwkv7_decode(
            ctypes.byref(self._model), x.shape[0], x.data_ptr(), *(t.data_ptr() for t in ins + out)
        )
        if rc != 0:
            raise MemoryError("the fused decode step could not allocate its scratch memory")
        given = (state.att_shift, state.ffn_shift, state.wkv)
        return x, RWKVState(*(new.to(old.dtype) for new, old in zip(out, given)))


def _format(linear: nn.Module) -> torch.dtype | None:
    """The format the kernel reads a Linear layer's matrix in, or None for one it does not take (fp32)."""
    if isinstance(linear, Fp16Linear):
        return torch.float16
    if isinstance(linear, Int8Linear):
        return torch.int8
    return torch.bfloat16 if linear.weight.dtype == torch.bfloat16 else None


def _tiled(linear: nn.Module, pairs: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A Linear layer's matrix tiled for the kernel (bf16 `pairs` of columns, see cpu_decode.bf16_pairs), and its
    rows' scales (int8) or None."""
    if isinstance(linear, Int8Linear):
        return cpu_decode.tile(linear.qweight), linear.scale.detach().float().contiguous()
    return cpu_decode.tile(linear.weight, pairs), None
