"""HuBERT (e.g. `facebook/hubert-large-ls960-ft`): a self-supervised speech encoder on the raw 16 kHz waveform,
as upstream WorldRWKV's speech encoder runs it.

Upstream (github.com/JL-er/WorldRWKV f15e179, world/encoder/speech_encoder.py L74-77 and L96-102) loads the
preprocessing with `AutoProcessor.from_pretrained(encoder_path)`, falling back to facebook/hubert-large-ls960-ft's
processor (a `Wav2Vec2FeatureExtractor` at 16 kHz with do_normalize=True and return_attention_mask=True), the
model with `AutoModel` (a `HubertModel` even for that folder's `HubertForCTC` checkpoint: the CTC head is dropped)
and takes `last_hidden_state`. Features come at 50 per second.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from modrwkv.encoders import register
from modrwkv.encoders.waveform import WaveformEncoder

if TYPE_CHECKING:
    from transformers import HubertConfig


@register
class HubertEncoder(WaveformEncoder):
    """Last-layer features [B, L, hidden_size], L = frames of the longest input of the batch."""

    name = "hubert"
    model_class = "HubertModel"
    config_class = "HubertConfig"

    @classmethod
    def tiny_config(cls) -> HubertConfig:
        """Width 32, real strides; shaped as hubert-large's: a layer-normed convolutional front end with biases
        and pre-norm transformer layers (which use the attention mask)."""
        config = super().tiny_config()
        config.feat_extract_norm, config.do_stable_layer_norm, config.conv_bias = "layer", True, True
        return config
