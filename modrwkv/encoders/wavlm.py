"""WavLM (e.g. `microsoft/wavlm-base-plus`): a self-supervised speech encoder on the raw 16 kHz waveform.

Its convolutional front end has a stride of 320 samples, so features come at 50 per second; relative
position bias instead of fixed positions means any length is accepted.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from modrwkv.encoders import register
from modrwkv.encoders.base import Encoder, as_batch, hub_errors
from modrwkv.encoders.media import SAMPLE_RATE, AudioItem, load_audio_item

if TYPE_CHECKING:
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel


@register
class WavLMEncoder(Encoder):
    """Last-layer features [B, L, hidden_size], L = frames of the longest input of the batch."""

    name = "wavlm"
    modality = "audio"
    input_names = ("input_values", "attention_mask")

    def __init__(self, model: WavLMModel, feature_extractor: Wav2Vec2FeatureExtractor) -> None:
        super().__init__()
        self.model = model.eval()
        self.feature_extractor = feature_extractor

    @property
    def output_dim(self) -> int:
        return self.model.config.hidden_size

    def preprocess(self, items: Sequence[AudioItem]) -> dict[str, torch.Tensor]:
        """`input_values` [B, samples] (right-padded) and `attention_mask` [B, samples] (1 = audio)."""
        waves = [load_audio_item(item) for item in as_batch(items)]
        values = self.feature_extractor(
            waves, sampling_rate=SAMPLE_RATE, padding=True, return_attention_mask=True, return_tensors="pt"
        )
        return {"input_values": values["input_values"], "attention_mask": values["attention_mask"]}

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_values, attention_mask=attention_mask).last_hidden_state

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> WavLMEncoder:
        """`kwargs` go to `WavLMModel.from_pretrained` (e.g. `dtype`, `revision`)."""
        from transformers import Wav2Vec2FeatureExtractor, WavLMModel

        with hub_errors(source):
            model = WavLMModel.from_pretrained(source, **kwargs)
            feature_extractor = Wav2Vec2FeatureExtractor.from_pretrained(source, revision=kwargs.get("revision"))
        return cls(model, feature_extractor)

    @classmethod
    def random(cls, config: WavLMConfig | None = None, **kwargs: Any) -> WavLMEncoder:
        """Random weights of width 32; the convolutional strides are the real ones (50 features per second)."""
        from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

        if config is None:
            config = WavLMConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                conv_dim=(16,) * 7,
                num_conv_pos_embeddings=16,
                num_conv_pos_embedding_groups=2,
            )
        config = copy.deepcopy(config)  # kwargs must not change the caller's config
        config.update(kwargs)
        # WavLM-base+ settings: zero-mean unit-variance per utterance, with a mask so padding is ignored.
        feature_extractor = Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True
        )
        return cls(WavLMModel(config), feature_extractor)
