"""The one entry that attaches the CPU fast paths to a loaded RWKV-7 model, the way transformers' quantizers swap
modules from outside the modeling code: the model's own file stays the math."""
from __future__ import annotations

import torch
from torch import nn

from kernels.rwkv7 import cpu_prompt, cpu_recurrence
from modrwkv.cpu.fused_decode import FusedDecoder
from modrwkv.cpu.linears import check_fp16_range, fp16_linears, pack_linears, packing_supported
from modrwkv.cpu.merged_projections import MergedProjections
from modrwkv.cpu.modules import CpuChannelMix, CpuRWKV7, CpuTimeMix
from modrwkv.rwkv7.loading import fp16_weights_only
from modrwkv.rwkv7.model import LORA_NAMES, RWKV7


def prepare_for_cpu(model: RWKV7, dtype: str | torch.dtype) -> CpuRWKV7:
    """`model` (loaded on the CPU in `dtype`'s compute dtype, int8 already quantised) made ready for CPU inference,
    in place: its matrices laid out once for oneDNN or fbgemm (fp16: fbgemm's fp16-weight products), and its modules
    turned into the `modrwkv.cpu.modules` ones: one native call per decoded token (fp16, bf16, int8), a prompt's
    element-wise work in C (fp32 compute), merged one-row projections (fp16 without the native step).
    Parameters and `state_dict()` are unchanged; inference only (no gradients through packed matrices).
    """
    fp16_weights = fp16_weights_only(dtype, "cpu")
    compute = model.dtype
    if fp16_weights or dtype == "int8":
        _round_loras_to_fp16(model)  # decode reads them in fp16: prompts then compute with the same values
    if fp16_weights:
        fp16_linears(model)
    elif packing_supported(compute):
        pack_linears(model)
    else:
        _store_input_major(model)
    model.__class__ = CpuRWKV7
    for block in model.blocks:
        block.att.__class__, block.ffn.__class__ = CpuTimeMix, CpuChannelMix
    model.fused_decoder = FusedDecoder.of(model)
    prompt_ops = (
        cpu_prompt.library() if compute == torch.float32 and cpu_prompt.supports(model.config.head_size) else None
    )
    for block in model.blocks:
        block.att.native = block.ffn.native = prompt_ops
        if fp16_weights and model.fused_decoder is None:  # PyTorch's kernels: fewer, merged one-row products
            block.att.merged = MergedProjections.of(block.att)
    cpu_recurrence.library()  # the C recurrence is built (once per machine) now, not in the first prompt
    return model


def _round_loras_to_fp16(model: RWKV7) -> None:
    """fp16 or int8 weights on a CPU: the LoRA matrices hold fp16 values too (kept in fp32 storage for their own GEMMs).

    Decode multiplies them in fp16 (in the native step's tiled copies, or the merged projections without it); prefill
    then computes with the very same values."""
    with torch.no_grad():
        for block in model.blocks:
            for name in LORA_NAMES:
                if (lora := getattr(block.att, name, None)) is not None:
                    check_fp16_range(lora, f"blocks.{block.layer_id}.att.{name}")
                    lora.copy_(lora.half().float())


def _store_input_major(model: RWKV7) -> None:
    """Where oneDNN packing is unavailable: keep Linear weights in memory as [in, out] behind a transposed view, the
    layout MKL's one-row GEMV streams fastest (x @ W, as BlinkDL's rwkv package stores them). state_dict() is
    unchanged."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.weight = nn.Parameter(
                module.weight.detach().t().contiguous().t(), requires_grad=module.weight.requires_grad
            )
