"""Training ModRWKV in the paper's two phases: `python -m modrwkv.train CONFIG.yaml`.

Phase 1 "align": encoder and RWKV-7 frozen, the compressor + adapter (and, for time series, the forecasting head)
learn from caption / transcript / series pairs. Phase 2 "instruct": the adapter and the backbone (or the parts of it
the config names) learn from multi-turn instruction data. The loss is on answer tokens only.
"""
from modrwkv.train.config import ConfigError, TrainConfig, load_config, parse_config
from modrwkv.train.data import DataError
from modrwkv.train.trainer import train

__all__ = ["ConfigError", "DataError", "TrainConfig", "load_config", "parse_config", "train"]
