"""ModRWKV: multimodal assistant on the RWKV-7 RNN (linear-time prefill, fixed-size state)."""
from modrwkv.backbone import RWKV7
from modrwkv.checkpoint import CheckpointError
from modrwkv.config import RWKV7Config
from modrwkv.multimodal import ModRWKV, ModRWKVConfig
from modrwkv.sources import SourceUnavailable
from modrwkv.state import RWKVState
from modrwkv.tokenizer import RWKVTokenizer

__all__ = [
    "RWKV7", "RWKV7Config", "RWKVState", "RWKVTokenizer", "ModRWKV", "ModRWKVConfig", "CheckpointError", "SourceUnavailable",
]
