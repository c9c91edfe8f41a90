"""The multimodal model: encoders' features through a compressor and MLP adapter into the RWKV-7 model (`model`),
the adapter (`adapter`), and the official ModRWKV releases' formats (`official`)."""
from modrwkv.multimodal.model import ModRWKV, ModRWKVConfig

__all__ = ["ModRWKV", "ModRWKVConfig"]
