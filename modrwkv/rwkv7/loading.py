"""Loading an RWKV-7 model: from a checkpoint's tensors (any layout `checkpoint` reads) to a model in a weight format.

Weight formats and the dtype policy live here: what each format stores, what it computes in on a device, and the
default for a CPU. On a CPU, inference models then get the CPU fast paths (`modrwkv.cpu.prepare_for_cpu`).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TypeVar

import torch

from modrwkv.rwkv7.checkpoint import CheckpointError, infer_config, read_state_dict, to_blinkdl
from modrwkv.rwkv7.quantization import Int8Linear, quantize_linears
from modrwkv.sources import resolve_source

# Weight formats -> the dtype activations are computed in. "int8": weight-only int8 matrices, fp32 elsewhere.
# "fp16" on a CPU is weight-only too (see compute_dtype): CPUs have no fast fp16 arithmetic.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}

Model = TypeVar("Model", bound="PretrainedRWKV7")


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """The dtype a weight format name (or a torch float dtype) stores its matrices in, int8 aside."""
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"unsupported dtype {dtype}; use one of {', '.join(DTYPES)}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unsupported dtype '{dtype}'; use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    """The name of a float dtype as a weight format: "fp32", "bf16" or "fp16"."""
    return next(name for name, d in DTYPES.items() if d == dtype)


@functools.cache
def fp16_weights_supported() -> bool:
    """Whether fbgemm's fp16-weight GEMM runs on this CPU (x86 with avx2 and F16C), checked on a small case."""
    try:
        w, x = torch.randn(8, 16), torch.randn(2, 16)
        y = torch.ops.quantized.linear_dynamic_fp16(x, torch.ops.quantized.linear_prepack_fp16(w, None))
        return torch.allclose(y, x @ w.half().float().t(), rtol=1e-4, atol=1e-4)
    except (RuntimeError, AttributeError):
        return False


def fp16_weights_only(dtype: str | torch.dtype, device: str | torch.device) -> bool:
    """Whether `dtype` on `device` keeps only its matrices in fp16 and computes in fp32 (fp16 on an x86 CPU)."""
    return parse_dtype(dtype) == torch.float16 and torch.device(device).type == "cpu" and fp16_weights_supported()


def compute_dtype(dtype: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """The dtype activations are computed in for a weight format on a device.

    fp32 for "int8", and for "fp16" on CPUs with fbgemm's fp16-weight kernel (x86 with avx2), whose fp16 arithmetic
    is emulated: there "fp16" keeps its matrices in fp16 (half the bytes per token) and computes in fp32.
    """
    if fp16_weights_only(dtype, device):
        return torch.float32
    return parse_dtype(dtype)


def describe_dtype(dtype: str, device: str | torch.device = "cpu") -> str:
    """What a weight format stores and computes in on a device, e.g. "fp16 matrices, fp32 math" on a CPU."""
    stored = "int8" if dtype == "int8" else dtype_name(parse_dtype(dtype))
    return f"{stored} matrices, {dtype_name(compute_dtype(dtype, device))} math"


def default_cpu_dtype() -> str:
    """The weight format to use on this CPU when the user names none: the fastest that is exact to fp32 up to the
    rounding of its weights (docs/performance.md has the measurements behind the choice).

    bf16 where the CPU computes it natively (avx512_bf16 / AMX). Where bf16 is emulated (avx2 only) it is far
    slower than fp32; there fp16 matrices with fp32 arithmetic (half of fp32's bytes per token) win. int8, which
    rounds every weight to 8 bits, is offered, not chosen, except where neither exists.
    """
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    if flags & {"avx512_bf16", "amx_bf16"}:
        return "bf16"
    if fp16_weights_supported():
        return "fp16"
    return "int8" if hasattr(torch, "_weight_int8pack_mm") else "fp32"


class PretrainedRWKV7:
    """`from_pretrained` / `from_state_dict` / `save_pretrained` for the RWKV-7 model (which builds on this class)."""

    @classmethod
    def from_state_dict(
        cls: type[Model],
        state: dict[str, torch.Tensor],
        dtype: str | torch.dtype = "fp32",
        device: str | torch.device = "cpu",
        pack_weights: bool = True,
    ) -> Model:
        """Build from tensors in BlinkDL or fla/HF layout; dimensions are read from the tensors.

        pack_weights: on CPU, prepare the model for CPU inference (`modrwkv.cpu.prepare_for_cpu`: matrices laid out
        once for oneDNN or fbgemm, native kernels); pass False to train, which also makes "fp16" on a CPU compute in
        fp16 rather than keep only its matrices in fp16.
        """
        state = to_blinkdl(state)
        config = infer_config(state)
        state = {k: v for k, v in state.items() if k not in ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2")}
        with torch.device("meta"):
            model = cls(config)
        expected = model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"RWKV-7 checkpoint does not match the x070 layout: missing {missing[:8]}, unexpected {unexpected[:8]}"
            )
        for k, t in expected.items():
            if state[k].shape != t.shape:
                raise CheckpointError(
                    f"'{k}' has shape {tuple(state[k].shape)}, expected {tuple(t.shape)} for {config}"
                )
        cpu_inference = pack_weights and torch.device(device).type == "cpu"
        compute = torch.float32 if cpu_inference and fp16_weights_only(dtype, device) else parse_dtype(dtype)
        model.load_state_dict({k: v.to(device=device, dtype=compute) for k, v in state.items()}, assign=True)
        if dtype == "int8":
            quantize_linears(model)
        if cpu_inference:
            from modrwkv.cpu import prepare_for_cpu  # imported here: the CPU fast paths subclass the model's modules

            model = prepare_for_cpu(model, dtype)
        return model.eval()

    @classmethod
    def from_pretrained(
        cls: type[Model],
        src: str | Path,
        dtype: str | torch.dtype = "fp32",
        device: str | torch.device = "cpu",
        pack_weights: bool = True,
    ) -> Model:
        """Load a BlinkDL `.pth`, a safetensors file or folder (BlinkDL or fla/HF names), or a Hugging Face repo id.

        dtype: "fp32", "bf16", "fp16", or "int8" (weight-only int8 matrices, fp32 activations and state); on an x86
        CPU "fp16" is weight-only too (fp16 matrices, fp32 arithmetic: see `compute_dtype`).
        """
        return cls.from_state_dict(
            read_state_dict(resolve_source(src)), dtype=dtype, device=device, pack_weights=pack_weights
        )

    def save_pretrained(self, folder: str | Path) -> Path:
        """`model.safetensors` (BlinkDL names) + `config.json`; `from_pretrained(folder)` reads it back."""
        from safetensors.torch import save_file

        if any(isinstance(m, Int8Linear) for m in self.modules()):
            raise ValueError(
                "an int8 model cannot be saved as a checkpoint: save the fp32/bf16 one, quantise at load time"
            )
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors"))
        meta = {"architecture": "rwkv7", "dtype": str(self.dtype).removeprefix("torch."), **self.config.to_dict()}
        (folder / "config.json").write_text(json.dumps(meta, indent=2))
        return folder
