"""BlinkDL's `rwkv` package (RWKV_x070, TorchScript, `cpu fp32`) on the same weights: the reference speed.

It runs one sequence at a time, so only batch 1 is measured.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path

import torch

from modrwkv.bench.measurement import WARMUP_PROMPT, WARMUP_STEPS, Measurement
from modrwkv.bench.timing import best_of

SEED = 0
STRATEGY = "cpu fp32"


def available() -> bool:
    return importlib.util.find_spec("rwkv") is not None


class RWKVPkgRunner:
    system = "rwkv-pkg"
    dtype = "fp32"

    def __init__(self, weights: dict[str, torch.Tensor], folder: Path):
        """`weights` in BlinkDL's layout are written to a .pth in `folder`, which the package loads from."""
        path = Path(folder) / "rwkv7-bench.pth"
        torch.save(weights, path)
        os.environ["RWKV_V7_ON"] = "1"  # read when rwkv.model is imported
        os.environ["RWKV_JIT_ON"] = "1"
        with redirect_stdout(sys.stderr):  # the package prints banners; stdout stays for tables and JSON
            from rwkv.model import RWKV

            if RWKV.__name__ != "RWKV_x070":
                raise RuntimeError("rwkv.model was already imported in this process without RWKV_V7_ON=1")
            self.model = RWKV(model=str(path.with_suffix("")), strategy=STRATEGY)
        self.vocab_size = self.model.args.vocab_size
        self.generator = torch.Generator().manual_seed(SEED)

    def random_tokens(self, length: int) -> list[int]:
        return torch.randint(0, self.vocab_size, (length,), generator=self.generator).tolist()

    def decode(self, logits: torch.Tensor, state: list[torch.Tensor], steps: int) -> None:
        state = list(state)  # the package replaces the list's tensors in place; the prompt state stays intact
        for _ in range(steps):
            logits, state = self.model.forward([int(logits.argmax())], state)

    def measure(
        self, context: int, batch: int, *, time_prefill: bool, time_decode: bool, decode_tokens: int, repeats: int
    ) -> Measurement:
        if batch != 1:
            raise ValueError("the rwkv package runs batch 1 only")
        for _ in range(2):  # TorchScript optimises a function after its first (profiling) run
            self.model.forward(self.random_tokens(min(context, WARMUP_PROMPT)), None)
        tokens = self.random_tokens(context)
        seconds, (logits, state) = best_of(
            lambda: self.model.forward(tokens, None), repeats if time_prefill else 1, "cpu"
        )
        prefill_tok_s = context / seconds if time_prefill else None
        decode_tok_s = None
        if time_decode:
            self.decode(logits, state, WARMUP_STEPS)
            seconds, _ = best_of(lambda: self.decode(logits, state, decode_tokens), repeats, "cpu")
            decode_tok_s = decode_tokens / seconds
        memory = sum(t.nbytes for t in state)
        return Measurement(self.system, self.dtype, context, batch, prefill_tok_s, decode_tok_s, memory)
