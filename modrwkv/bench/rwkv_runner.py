"""modrwkv's RWKV7: loading a checkpoint or a named shape, and timing prefill and decode."""
from __future__ import annotations

import torch
from torch import nn

from modrwkv.bench.measurement import WARMUP_PROMPT, WARMUP_STEPS, Measurement
from modrwkv.bench.shapes import shape_config
from modrwkv.bench.timing import best_of
from modrwkv.generation.cuda_graph import decode_step
from modrwkv.generation.streaming import prefill
from modrwkv.rwkv7.checkpoint import read_state_dict, to_blinkdl
from modrwkv.rwkv7.loading import fp16_weights_only
from modrwkv.rwkv7.model import LORA_NAMES, RWKV7
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.rwkv7.state import RWKVState
from modrwkv.sources import resolve_source

SEED = 0


def blinkdl_weights(model: str | None, shape: str | None) -> dict[str, torch.Tensor]:
    """Weights in BlinkDL's layout (what both modrwkv and the `rwkv` package read): a checkpoint or random."""
    if model is not None:
        return to_blinkdl(read_state_dict(resolve_source(model)))
    return random_state_dict(shape_config(shape), seed=SEED)


def shape_only_model(model: str | None, shape: str | None, dtype: str, device: str = "cpu") -> RWKV7:
    """An RWKV7 on the meta device with the shapes and dtypes `dtype` has when loaded on `device`, and no weights
    (for byte counts only): on a CPU "fp16" keeps its Linear matrices in fp16 and everything else in fp32."""
    fp16_matrices = fp16_weights_only(dtype, device)
    fmt = "fp32" if fp16_matrices else dtype
    if model is not None:
        meta = RWKV7.from_pretrained(model, dtype=fmt, device="meta")
    else:
        with torch.device("meta"):
            weights = RWKV7(shape_config(shape)).state_dict()
        meta = RWKV7.from_state_dict(weights, dtype=fmt, device="meta")
    if fp16_matrices:
        for module in meta.modules():
            if isinstance(module, nn.Linear):
                module.weight = nn.Parameter(module.weight.half(), requires_grad=False)
    return meta


def matmul_params_per_token(model: RWKV7) -> int:
    """Weights multiplied per prompt token: every matrix but the embedding (a lookup) and the head (prefill
    computes logits for the last token only). Read from state_dict(), which also holds int8 weights (buffers)."""
    tensors = model.state_dict().items()
    return sum(t.numel() for name, t in tensors if t.dim() == 2 and name.split(".")[0] not in ("emb", "head"))


def weight_bytes_per_token(model: RWKV7) -> int:
    """Bytes of weights read per one-row decode step: everything but the embedding table, of which one row is read.

    With fp16 or int8 matrices on a CPU (fp32 arithmetic) the LoRAs are kept in fp32 but a one-row step reads them in
    fp16, from the native step's tiled copies (modrwkv/cpu/fused_decode.py) or, without it, the merged projections
    (fp16); the meta model the memory command measures has neither, hence the rule by dtypes rather than by the
    copies."""
    tensors = model.state_dict()
    key = tensors.get("blocks.0.att.key.weight")  # int8 models hold qweight and scale instead
    narrow = "blocks.0.att.key.qweight" in tensors or (key is not None and key.dtype == torch.float16)
    fp16_loras = narrow and tensors["blocks.0.att.w1"].dtype == torch.float32

    def read(name: str, t: torch.Tensor) -> int:
        return t.numel() * 2 if fp16_loras and name.rsplit(".", 1)[-1] in LORA_NAMES else t.nbytes

    return sum(read(name, t) for name, t in tensors.items() if name != "emb.weight") + tensors["emb.weight"][0].nbytes


class RWKVRunner:
    system = "modrwkv"

    def __init__(self, model: RWKV7, dtype: str):
        self.model, self.dtype = model, dtype
        self.generator = torch.Generator().manual_seed(SEED)

    def random_tokens(self, batch: int, length: int) -> torch.Tensor:
        return torch.randint(0, self.model.config.vocab_size, (batch, length), generator=self.generator)

    def prefill_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor, RWKVState]:
        # the library's chunked prefill (last_only=True), as generation uses it
        return prefill(self.model, list(tokens))

    @torch.inference_mode()
    def decode(self, logits: torch.Tensor, state: RWKVState, steps: int) -> RWKVState:
        for _ in range(steps):
            logits, state = decode_step(self.model, logits.argmax(-1), state)  # as generation decodes
        return state

    def measure(
        self, context: int, batch: int, *, time_prefill: bool, time_decode: bool, decode_tokens: int, repeats: int
    ) -> Measurement:
        device = self.model.device
        self.prefill_tokens(self.random_tokens(batch, min(context, WARMUP_PROMPT)))
        tokens = self.random_tokens(batch, context)
        # one prefill per context: its state is the starting point of every decode run below
        seconds, (logits, state) = best_of(lambda: self.prefill_tokens(tokens), repeats if time_prefill else 1, device)
        prefill_tok_s = batch * context / seconds if time_prefill else None
        decode_tok_s = None
        if time_decode:
            # the model never modifies the state it is given, so every run starts from the same prompt state
            self.decode(logits, state, WARMUP_STEPS)
            seconds, _ = best_of(lambda: self.decode(logits, state, decode_tokens), repeats, device)
            decode_tok_s = batch * decode_tokens / seconds
        return Measurement(self.system, self.dtype, context, batch, prefill_tok_s, decode_tok_s, state.nbytes)
