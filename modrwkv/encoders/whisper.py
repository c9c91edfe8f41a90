"""Whisper's audio encoder (e.g. `openai/whisper-small`): 80-bin log-mel, 30 s windows, 1500 frames of 20 ms.

The encoder has learned position embeddings for exactly `max_source_positions` frames, so every input
is padded (or cut) to one full window as Whisper's feature extractor does; audio longer than
`max_seconds` must be split into windows by the caller.
"""
from __future__ import annotations

import math
import copy
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from modrwkv.encoders import register
from modrwkv.encoders.base import Encoder, as_batch, hub_errors
from modrwkv.encoders.media import SAMPLE_RATE, AudioItem, load_audio_item

if TYPE_CHECKING:
    from transformers import WhisperConfig, WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

HOP_LENGTH = 160  # 10 ms mel frames at 16 kHz; the encoder's stride-2 convolution makes 20 ms features


@register
class WhisperEncoder(Encoder):
    """Features [B, L, d_model], 50 per second of audio.

    The frames after the longest input of the batch (the padding of the 30 s window) are dropped:
    they encode silence, and each costs the language model a token.
    """

    name = "whisper"
    modality = "audio"
    input_names = ("input_features", "attention_mask")

    def __init__(self, model: HFWhisperEncoder, feature_extractor: WhisperFeatureExtractor) -> None:
        super().__init__()
        self.model = model.eval()
        self.feature_extractor = feature_extractor

    @property
    def output_dim(self) -> int:
        return self.model.config.d_model

    @property
    def max_seconds(self) -> float:
        return self.feature_extractor.n_samples / self.feature_extractor.sampling_rate

    def preprocess(self, items: Sequence[AudioItem]) -> dict[str, torch.Tensor]:
        """`input_features` [B, n_mels, frames] (one full window) and `attention_mask` [B, frames] (1 = audio)."""
        waves = [load_audio_item(item) for item in as_batch(items)]
        features = self.feature_extractor(
            waves, sampling_rate=SAMPLE_RATE, return_attention_mask=True, return_tensors="pt"
        )
        return {"input_features": features["input_features"], "attention_mask": features["attention_mask"]}

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.model(input_features).last_hidden_state
        if attention_mask is None:
            return hidden
        return hidden[:, : math.ceil(int(attention_mask.sum(-1).max()) / 2)]

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> WhisperEncoder:
        """`kwargs` go to `WhisperModel.from_pretrained` (e.g. `dtype`, `revision`); the decoder is discarded."""
        from transformers import WhisperFeatureExtractor, WhisperModel

        with hub_errors(source):
            model = WhisperModel.from_pretrained(source, **kwargs).get_encoder()
            feature_extractor = WhisperFeatureExtractor.from_pretrained(source, revision=kwargs.get("revision"))
        return cls(model, feature_extractor)

    @classmethod
    def random(cls, config: WhisperConfig | None = None, **kwargs: Any) -> WhisperEncoder:
        """Random weights; by default a 2 s window (100 positions) of width 32. `kwargs` override config fields.

        `max_source_positions` must be a multiple of 50 (whole seconds), the feature extractor's unit.
        """
        from transformers import WhisperConfig, WhisperFeatureExtractor
        from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

        if config is None:
            config = WhisperConfig(
                d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64, max_source_positions=100
            )
        config = copy.deepcopy(config)  # kwargs must not change the caller's config
        config.update(kwargs)
        frames_per_second = SAMPLE_RATE // HOP_LENGTH // 2
        if config.max_source_positions % frames_per_second:
            raise ValueError(
                f"max_source_positions must be a multiple of {frames_per_second}, got {config.max_source_positions}"
            )
        feature_extractor = WhisperFeatureExtractor(
            feature_size=config.num_mel_bins,
            sampling_rate=SAMPLE_RATE,
            hop_length=HOP_LENGTH,
            chunk_length=config.max_source_positions // frames_per_second,
        )
        return cls(HFWhisperEncoder(config), feature_extractor)
