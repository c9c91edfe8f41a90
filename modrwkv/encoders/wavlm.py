"""WavLM (e.g. `microsoft/wavlm-base-plus`): a self-supervised speech encoder on the raw 16 kHz waveform.

Its convolutional front end has a stride of 320 samples, so features come at 50 per second; relative
position bias instead of fixed positions means any length is accepted. See `WaveformEncoder` for the
preprocessing and the `normalize` option.
"""
from __future__ import annotations

from modrwkv.encoders import register
from modrwkv.encoders.waveform import WaveformEncoder


@register
class WavLMEncoder(WaveformEncoder):
    """Last-layer features [B, L, hidden_size], L = frames of the longest input of the batch."""

    name = "wavlm"
    model_class = "WavLMModel"
    config_class = "WavLMConfig"
