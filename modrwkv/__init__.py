"""ModRWKV: multimodal assistant on the RWKV-7 RNN (linear-time prefill, fixed-size state)."""
from modrwkv.multimodal import ModRWKV, ModRWKVConfig
from modrwkv.rwkv7 import RWKV7, CheckpointError, RWKV7Config, RWKVState
from modrwkv.sources import SourceUnavailable
from modrwkv.tokenizer import RWKVTokenizer

__all__ = [
    "RWKV7", "RWKV7Config", "RWKVState", "RWKVTokenizer", "ModRWKV", "ModRWKVConfig", "CheckpointError",
    "SourceUnavailable",
]
