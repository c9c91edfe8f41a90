"""`python -m modrwkv.bench serving`: many conversations answered one at a time, then through the scheduler.

The app's load harness measures what its visitors wait for, where the bundled models' answers are a few tokens and
the encoders take most of the time. This one measures the decoding itself: `--conversations N` prompts of
`--prompt-tokens` tokens, each answered with `--new-tokens` tokens (greedy, no stop token), arriving together,
served first one after another (`BatchGeneration` per request, as the app with `MODRWKV_BATCH=1`), then by a
`Scheduler` with `--batch B`. Per way: total generated tokens per second and each conversation's time to its first
token (p50, p95) and to its last.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from modrwkv.bench import machine, report, results
from modrwkv.bench.app_load_stats import percentile
from modrwkv.bench.arguments import positive_int, shape_name
from modrwkv.bench.rwkv_runner import blinkdl_weights
from modrwkv.generation.sampling import GenerationConfig
from modrwkv.generation.streaming import BatchGeneration
from modrwkv.rwkv7.loading import DTYPES, default_cpu_dtype
from modrwkv.rwkv7.model import RWKV7
from modrwkv.serving.scheduler import Scheduler
from modrwkv.tokenizer import RWKVTokenizer

PROG = "python -m modrwkv.bench serving"
HELP = "generated tokens/s and time to first token of many conversations: one at a time vs the scheduler"


def add_parser(sub: argparse._SubParsersAction, save_path: Callable[[str], Path]) -> None:
    p = sub.add_parser("serving", help=HELP, description=HELP)
    p.add_argument("--shape", type=shape_name, default="0.1b",
                   help="random weights of this shape (default %(default)s)")
    p.add_argument("--conversations", type=positive_int, default=16, help="default %(default)s")
    p.add_argument("--batch", type=positive_int, default=8, help="the scheduler's max_batch (default %(default)s)")
    p.add_argument("--prompt-tokens", type=positive_int, default=64, help="default %(default)s")
    p.add_argument("--new-tokens", type=positive_int, default=64, help="default %(default)s")
    p.add_argument("--dtype", choices=list(DTYPES), default=default_cpu_dtype(),
                   help="default %(default)s, this CPU's default format; in fp32 both ways give the same greedy "
                        "tokens, in reduced precision a batch's products may round otherwise and flip a near tie")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.add_argument("--save", type=save_path, metavar="PATH.json", help="write the --json object to this file")
    p.set_defaults(device="cpu")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    result = measure(args.shape, args.conversations, args.batch, args.prompt_tokens, args.new_tokens, args.dtype)
    for way in ("one_at_a_time", "scheduler"):
        r = result[way]
        print(f"{way.replace('_', ' ')}: {r['tokens_per_second']:.1f} tokens/s, first token p50 "
              f"{r['first_token_p50_s']:.2f} s / p95 {r['first_token_p95_s']:.2f} s, last answer {r['seconds']:.1f} s")
    print(f"scheduler / one at a time: {result['speedup']:.2f}x tokens/s; {result['same_answers']} of "
          f"{result['conversations']} answers token for token the same ({result['dtype']})")
    if args.save is not None:
        print(f"saved: {results.save(args.save, argv, args, result)}")
    if args.json:
        print(report.json_line(result))
    return 0


def measure(shape: str, conversations: int, batch: int, prompt_tokens: int, new_tokens: int,
            dtype: str | None = None) -> dict:
    """Both ways on one model and the same prompts; the scheduler's greedy answers are compared with the first's."""
    dtype = dtype or default_cpu_dtype()
    model = RWKV7.from_state_dict(blinkdl_weights(None, shape), dtype=dtype)
    tokenizer = RWKVTokenizer()
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(1, 60_000, (prompt_tokens,), generator=g).tolist() for _ in range(conversations)]
    # no stop: every answer is new_tokens long; ids the vocabulary lacks are banned (random weights would write them)
    config = GenerationConfig(temperature=0, presence_penalty=0, frequency_penalty=0, max_new_tokens=new_tokens,
                              stop_tokens=(), banned_tokens=(0, *tokenizer.unknown_ids(model.config.vocab_size)))
    _progress(f"{conversations} conversations one at a time ...")
    alone, alone_tokens = _one_at_a_time(model, tokenizer, prompts, config)
    _progress(f"{conversations} conversations through the scheduler (batch {batch}) ...")
    together, together_tokens = _scheduled(model, tokenizer, prompts, config, batch)
    return {
        "command": "serving", "shape": shape, "dtype": dtype, "conversations": conversations,
        "batch": batch, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
        "machine": machine.describe("cpu"),
        "one_at_a_time": alone, "scheduler": together,
        "speedup": together["tokens_per_second"] / alone["tokens_per_second"],
        "same_answers": sum(a == b for a, b in zip(together_tokens, alone_tokens)),
    }


def _one_at_a_time(model: RWKV7, tokenizer: RWKVTokenizer, prompts: Sequence[list[int]],
                   config: GenerationConfig) -> tuple[dict, list[list[int]]]:
    start, firsts, ends, tokens = time.perf_counter(), [], [], []
    for prompt in prompts:  # all arrived at `start`; each waits for those before it
        gen = BatchGeneration(model, tokenizer, [prompt], None, config)
        first = None
        for _ in gen:
            if first is None and gen.results[0].tokens:
                first = time.perf_counter() - start
        firsts.append(first)
        ends.append(time.perf_counter() - start)
        tokens.append(gen.results[0].tokens)
    return _figures(firsts, ends, tokens), tokens


def _scheduled(model: RWKV7, tokenizer: RWKVTokenizer, prompts: Sequence[list[int]], config: GenerationConfig,
               batch: int) -> tuple[dict, list[list[int]]]:
    scheduler = Scheduler(model, tokenizer, max_batch=batch)
    firsts, ends = [0.0] * len(prompts), [0.0] * len(prompts)
    try:
        start = time.perf_counter()
        streams = [scheduler.submit(p, None, config) for p in prompts]

        def read(i: int) -> None:
            for _ in streams[i]:
                if not firsts[i] and streams[i].result.tokens:
                    firsts[i] = time.perf_counter() - start
            ends[i] = time.perf_counter() - start

        threads = [threading.Thread(target=read, args=(i,)) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        scheduler.close()
    tokens = [s.result.tokens for s in streams]
    return _figures(firsts, ends, tokens), tokens


def _figures(firsts: list[float], ends: list[float], tokens: list[list[int]]) -> dict:
    seconds = max(ends)
    return {"seconds": seconds, "tokens": sum(len(t) for t in tokens),
            "tokens_per_second": sum(len(t) for t in tokens) / seconds,
            "first_token_p50_s": percentile(firsts, 50), "first_token_p95_s": percentile(firsts, 95)}


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
