"""The RWKV-7 WKV recurrence; `wkv7` picks the implementation."""
from kernels.dispatch import wkv7

__all__ = ["wkv7"]
