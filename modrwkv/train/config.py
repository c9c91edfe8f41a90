"""The training config: YAML parsed into dataclasses; every error names the key it is about.

Relative paths are taken from the working directory (where `python -m modrwkv.train` or `accelerate launch` runs).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from modrwkv.multimodal.adapter import AdapterConfig

FORMAT_MODALITY = {"llava": "image", "audio": "audio", "series": "series"}


class ConfigError(ValueError):
    """A config that cannot be used; the message starts with the key at fault."""


@dataclass(frozen=True)
class BackboneConfig:
    checkpoint: str | None = None  # RWKV7.from_pretrained source (.pth, safetensors folder, repo id)
    n_layer: int | None = None  # random weights of this shape when there is no checkpoint
    n_embd: int | None = None
    head_size: int = 64
    vocab_size: int = 65536

    def __post_init__(self) -> None:
        shape = self.n_layer is not None or self.n_embd is not None
        if self.checkpoint is not None and shape:
            raise ConfigError("model.backbone: give either checkpoint or n_layer + n_embd (random weights), not both")
        if self.checkpoint is None and (self.n_layer is None or self.n_embd is None):
            raise ConfigError("model.backbone: give a checkpoint, or n_layer and n_embd for random weights")


@dataclass(frozen=True)
class EncoderConfig:
    name: str  # a registered encoder (modrwkv.encoders.available())
    source: str | None = None  # Hugging Face id or folder; None = random weights (tests, smoke runs)
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of encoders.build


@dataclass(frozen=True)
class ModelConfig:
    init_from: str | None = None  # a ModRWKV folder (a phase-1 output_dir) or an official ModRWKV checkpoint
    backbone: BackboneConfig | None = None
    encoder: EncoderConfig | None = None
    adapter: dict[str, Any] | None = None  # AdapterConfig fields but in_dim/out_dim; default: the paper's conv (3, 2)
    placement: Literal["prepend", "placeholder"] | None = None  # a new model's; default prepend (the paper's)

    def __post_init__(self) -> None:
        if self.init_from is not None:
            given = [k for k in ("backbone", "encoder", "adapter", "placement") if getattr(self, k) is not None]
            if given:
                raise ConfigError(f"model.{given[0]}: init_from already fixes the whole model; remove model.{given[0]}")
            return
        for key in ("backbone", "encoder"):
            if getattr(self, key) is None:
                raise ConfigError(f"model.{key}: required unless model.init_from names a trained model")
        if self.adapter is not None:
            for fixed in ("in_dim", "out_dim"):
                if fixed in self.adapter:
                    raise ConfigError(f"model.adapter.{fixed}: set by the encoder and the backbone, remove it")
            _parse(AdapterConfig, {"in_dim": 1, "out_dim": 1, **self.adapter}, "model.adapter")


@dataclass(frozen=True)
class DataConfig:
    format: Literal["llava", "audio", "series"]
    path: str  # llava: .json/.jsonl; audio: .jsonl/.json/.csv manifest; series: a .csv file or a folder of them
    image_folder: str | None = None  # llava: image paths are relative to it (default: the JSON's folder)
    audio_folder: str | None = None  # audio: paths are relative to it (default: the manifest's folder)
    columns: list[str] | None = None  # series: the channels (default: every numeric column)
    context: int | None = None  # series: points of history per window
    horizon: int | None = None  # series: points to forecast per window
    stride: int = 1  # series: step between window starts
    max_records: int | None = None  # use only the first N records (windows for series)

    def __post_init__(self) -> None:
        where = self._section()
        only = {"image_folder": "llava", "audio_folder": "audio", "columns": "series", "context": "series",
                "horizon": "series"}
        for key, fmt in only.items():
            if getattr(self, key) is not None and self.format != fmt:
                raise ConfigError(f"{where}.{key}: only for format {fmt}, this is {self.format}")
        if self.format == "series":
            for key in ("context", "horizon"):
                if getattr(self, key) is None:
                    raise ConfigError(f"{where}.{key}: required for format series")
        for key in ("context", "horizon", "stride", "max_records"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{where}.{key}: must be at least 1, got {value}")

    def _section(self) -> str:
        return "data"

    @property
    def modality(self) -> str:
        return FORMAT_MODALITY[self.format]


@dataclass(frozen=True)
class EvalConfig(DataConfig):
    """Data keys not given here are taken from `data` (except max_records)."""

    max_new_tokens: int = 64  # answer / transcript length limit when generating

    def _section(self) -> str:
        return "eval"


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 1
    max_steps: int | None = None  # optimizer steps; overrides epochs
    batch_size: int = 1  # per process
    gradient_accumulation_steps: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine", "linear"] = "cosine"
    grad_clip: float | None = 1.0
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    gradient_checkpointing: bool = False
    save_every: int | None = None  # optimizer steps between resumable checkpoints
    keep_checkpoints: int = 2  # older ones are deleted
    seed: int = 0
    feature_cache: Literal["memory", "disk", "off"] = "memory"  # frozen-encoder features, computed once
    # the disk cache's folder (default output_dir/feature_cache): phases with the same encoder can share one
    feature_cache_dir: str | None = None
    trainable: list[str] = field(default_factory=list)  # instruct: backbone parameter patterns; [] = all of it
    # series: the encoder learns too (WaveNet has no pretrained weights); it then runs in every step, uncached
    train_encoder: bool = False
    # audio: weight of an auxiliary CTC loss that teaches each audio token the word it hears (losses.transcript_ctc)
    ctc_weight: float = 0.0

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "gradient_accumulation_steps", "keep_checkpoints"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key}: must be at least 1, got {getattr(self, key)}")
        for key in ("max_steps", "save_every"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"train.{key}: must be at least 1, got {value}")
        if self.lr <= 0:
            raise ConfigError(f"train.lr: must be positive, got {self.lr}")
        if self.ctc_weight < 0:
            raise ConfigError(f"train.ctc_weight: must be 0 or more, got {self.ctc_weight}")
        if len(self.betas) != 2:
            raise ConfigError(f"train.betas: two numbers, got {self.betas}")
        if self.feature_cache_dir is not None and self.feature_cache != "disk":
            raise ConfigError(f"train.feature_cache_dir: only for feature_cache disk, got {self.feature_cache}")


@dataclass(frozen=True)
class TrainConfig:
    phase: Literal["align", "instruct"]  # align: adapter only; instruct: adapter + backbone
    output_dir: str
    model: ModelConfig
    data: DataConfig
    train: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig | None = None  # default: a look at the first 100 training records
    resume: str | None = None  # "latest" (newest checkpoint in output_dir) or a checkpoint folder

    def __post_init__(self) -> None:
        if self.phase == "align" and self.train.trainable:
            raise ConfigError("train.trainable: the align phase trains the adapter only; use it with phase instruct")
        if self.train.train_encoder and self.data.format != "series":
            raise ConfigError(f"train.train_encoder: only for format series, this is {self.data.format}")
        if self.train.ctc_weight and self.data.format != "audio":
            raise ConfigError(f"train.ctc_weight: only for format audio (transcripts), this is {self.data.format}")
        if self.eval is not None and self.eval.format != self.data.format:
            raise ConfigError(f"eval.format: must match data.format ({self.data.format}), got {self.eval.format}")


def load_config(path: str | Path) -> TrainConfig:
    """Read and check a YAML training config."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    return parse_config(raw if raw is not None else {})


def parse_config(raw: Any) -> TrainConfig:
    """A TrainConfig from the plain dict a YAML file holds; `eval` inherits the data keys it does not set."""
    if isinstance(raw, dict) and isinstance(raw.get("eval"), dict) and isinstance(raw.get("data"), dict):
        inherited = {k: v for k, v in raw["data"].items() if k != "max_records"}
        raw = {**raw, "eval": {**inherited, **raw["eval"]}}
    return _parse(TrainConfig, raw, "")


def _parse(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'the config'}: expected a mapping of keys, got {_show(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        key = _join(where, str(unknown[0]))
        raise ConfigError(f"{key}: unknown key (known here: {', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name in raw:
            values[name] = _convert(raw[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:  # a library dataclass's own checks (AdapterConfig)
        raise ConfigError(f"{where}: {e}") from None


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if len(errors) == 1 else ConfigError(f"{key}: expected {_describe(hint)}, got {_show(value)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: must be one of {', '.join(map(str, args))}, got {_show(value)}")
        return value
    if dataclasses.is_dataclass(hint):
        return _parse(hint, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_show(value)}")
        return [_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {_show(value)}")
        return {str(k): _convert(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key}: expected {_describe(hint)}, got {_show(value)}")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
