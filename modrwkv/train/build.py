"""The model a config describes, and which of its parameters each phase trains."""
from __future__ import annotations

import fnmatch

from modrwkv import encoders
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.adapter import AdapterConfig
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.train.config import ConfigError, ModelConfig, TrainConfig


def build_model(
    config: ModelConfig, modality: str, horizon: int | None = None, seed: int = 0, context: int | None = None
) -> ModRWKV:
    """Weights in fp32 (mixed precision autocasts), never packed for inference. `horizon`: the forecasting head's,
    for time series."""
    if config.init_from is not None:
        model = ModRWKV.from_pretrained(config.init_from, pack_weights=False)
        _check_loaded(model, config.init_from, modality, horizon)
        return model
    b = config.backbone
    if b.checkpoint is not None:
        llm = RWKV7.from_pretrained(b.checkpoint, pack_weights=False)
    else:
        shape = RWKV7Config.shape(b.n_layer, b.n_embd, head_size=b.head_size, vocab_size=b.vocab_size)
        llm = RWKV7.from_state_dict(random_state_dict(shape, seed=seed), pack_weights=False)
    e = config.encoder
    if e.name not in encoders.available():
        raise ConfigError(
            f"model.encoder.name: unknown encoder {e.name!r}; available: {', '.join(encoders.available())}"
        )
    encoder = encoders.build(e.name, e.source, **e.options)
    if encoder.modality != modality:
        raise ConfigError(f"model.encoder.name: {e.name} reads {encoder.modality}, but the data is {modality}")
    adapter = None  # ModRWKV.build's default: the paper's conv (3, 2) + MLP r = 4
    if config.adapter is not None:
        adapter = AdapterConfig(in_dim=encoder.output_dim, out_dim=llm.config.n_embd, **config.adapter)
    return ModRWKV.build(llm, [encoder], adapter, config.placement or "prepend", forecast_horizon=horizon,
                         forecast_context=context)


def _check_loaded(model: ModRWKV, source: str, modality: str, horizon: int | None) -> None:
    if modality not in model.encoders:
        raise ConfigError(f"model.init_from: {source} has no {modality} encoder (it reads {', '.join(model.encoders)})")
    head = model.forecast_head
    if modality == "series" and (head is None or head.config.horizon != horizon):
        found = "no forecasting head" if head is None else f"a head of horizon {head.config.horizon}"
        raise ConfigError(f"data.horizon: {horizon}, but {source} has {found}")


def set_trainable(model: ModRWKV, config: TrainConfig) -> list[str]:
    """Freeze everything, then unfreeze what the phase trains; returns the trainable parameter names.

    align: the data's adapter (and the forecasting head for series). instruct: also the backbone, or the parts of it
    whose names (BlinkDL's, e.g. "blocks.*.att.*", "head.weight") match `train.trainable`. Encoders train only with
    `train.train_encoder` (series).
    Backbone parts a loss never reaches stay frozen (the embedding and vocabulary head for series): DDP requires
    every trainable parameter to receive a gradient.
    """
    modality = config.data.modality
    model.requires_grad_(False)
    model.adapters[modality].requires_grad_(True)
    if modality == "series":
        model.forecast_head.requires_grad_(True)
    if config.train.train_encoder:
        source = model.config.modalities[modality].source
        if source:  # save_pretrained stores such an encoder as a reference to `source`: its training would be lost
            raise ConfigError(f"train.train_encoder: the encoder is loaded from {source}; train one without a source")
        model.encoders[modality].requires_grad_(True)
    if config.phase == "instruct":
        patterns = config.train.trainable or ["*"]
        unused = ("emb.*", "head.*") if modality == "series" else ()
        names = [n for n, _ in model.llm.named_parameters()]
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ConfigError(f"train.trainable: {pattern!r} matches no backbone parameter (e.g. {names[0]!r})")
        for name, parameter in model.llm.named_parameters():
            if any(fnmatch.fnmatchcase(name, p) for p in patterns) and not any(
                fnmatch.fnmatchcase(name, u) for u in unused
            ):
                parameter.requires_grad_(True)
    return [n for n, p in model.named_parameters() if p.requires_grad]
