"""The shared base of the encoders on the raw 16 kHz waveform (WavLM, HuBERT): transformers' wav2vec2-family models.

Their convolutional front end has a stride of 320 samples, so features come at 50 per second; relative
position bias (WavLM) or a convolutional position embedding (HuBERT) means any length is accepted.
A subclass names its transformers model and config classes and gives a tiny default config.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import torch

from modrwkv.encoders.base import Encoder, as_batch, hub_errors
from modrwkv.encoders.media import SAMPLE_RATE, AudioItem, load_audio_item

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, Wav2Vec2FeatureExtractor

W = TypeVar("W", bound="WaveformEncoder")


class WaveformEncoder(Encoder):
    """Last-layer features [B, L, hidden_size], L = frames of the longest input of the batch.

    `normalize`: None keeps the feature extractor's own `do_normalize` (a folder's preprocessor_config.json);
    True or False forces it (per-utterance zero mean and unit variance, computed over the unpadded samples).
    """

    modality = "audio"
    input_names = ("input_values", "attention_mask")
    # transformers class names, e.g. "WavLMModel" and "WavLMConfig"
    model_class: ClassVar[str]
    config_class: ClassVar[str]

    def __init__(
        self, model: PreTrainedModel, feature_extractor: Wav2Vec2FeatureExtractor, normalize: bool | None = None
    ) -> None:
        super().__init__()
        self.model = model.eval()
        self.feature_extractor = feature_extractor
        self.normalize: bool | None = None
        if normalize is not None:
            self.set_normalize(normalize)

    def set_normalize(self, normalize: bool) -> WaveformEncoder:
        """Force per-utterance normalisation on or off from now on (and when reloaded); returns self."""
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be True, False or None, got {normalize!r}")
        self.feature_extractor.do_normalize = normalize
        self.normalize = normalize
        return self

    def load_options(self) -> dict[str, Any]:
        return {"normalize": self.normalize} if self.normalize is not None else {}

    def architecture(self) -> dict[str, Any]:
        return super().architecture() | self.load_options()  # random(normalize=...) restores it too

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
    def from_pretrained(cls: type[W], source: str | os.PathLike, normalize: bool | None = None, **kwargs: Any) -> W:
        """`kwargs` go to the model's `from_pretrained` (e.g. `dtype`, `revision`). A checkpoint of a model with a
        head (e.g. `HubertForCTC`, its weights prefixed `hubert.`) loads as the bare model, the head dropped."""
        import transformers
        from transformers import Wav2Vec2FeatureExtractor

        with hub_errors(source):
            model = getattr(transformers, cls.model_class).from_pretrained(source, **kwargs)
            feature_extractor = Wav2Vec2FeatureExtractor.from_pretrained(source, revision=kwargs.get("revision"))
        return cls(model, feature_extractor, normalize)

    @classmethod
    def random(cls: type[W], config: PretrainedConfig | None = None, normalize: bool | None = None, **kwargs: Any) -> W:
        """Random weights, by default `tiny_config()`'s; `kwargs` override config fields."""
        import transformers
        from transformers import Wav2Vec2FeatureExtractor

        config = cls.tiny_config() if config is None else copy.deepcopy(config)  # kwargs must not change the caller's
        config.update(kwargs)
        # zero-mean unit-variance per utterance, with a mask so that padding is ignored (the released processors')
        feature_extractor = Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True
        )
        return cls(getattr(transformers, cls.model_class)(config), feature_extractor, normalize)

    @classmethod
    def tiny_config(cls) -> PretrainedConfig:
        """Width 32; the convolutional strides are the real ones (50 features per second)."""
        import transformers

        return getattr(transformers, cls.config_class)(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            conv_dim=(16,) * 7,
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=2,
        )
