"""Throughput and memory benchmarks: RWKV-7 (modrwkv and BlinkDL's `rwkv`) against a KV-cache Transformer.

Run `python -m modrwkv.bench {prefill,decode,memory,compare,kernels,table} --help`; `--save PATH.json` keeps a run as a
result file (modrwkv/bench/results.py) and `table PATH.json` makes its Markdown table.
"""
