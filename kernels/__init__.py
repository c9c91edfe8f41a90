"""RWKV-7 kernels: the WKV recurrence (`wkv7` picks the implementation) and the native CPU layer ops, in `rwkv7/`."""
from kernels.rwkv7.dispatch import wkv7

__all__ = ["wkv7"]
