"""Throughput and memory benchmarks: RWKV-7 (modrwkv and BlinkDL's `rwkv`) against a KV-cache Transformer.

Run `python -m modrwkv.bench {prefill,decode,memory,compare} --help`.
"""
