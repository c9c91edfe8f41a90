"""The RWKV-7 language model: its math (`model`), configuration, recurrent state, and loading of checkpoints."""
from modrwkv.rwkv7.checkpoint import CheckpointError
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.state import RWKVState

__all__ = ["RWKV7", "RWKV7Config", "RWKVState", "CheckpointError"]
