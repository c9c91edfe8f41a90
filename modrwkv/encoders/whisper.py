"""Whisper's audio encoder (e.g. `openai/whisper-small`): 80-bin log-mel, 30 s windows, 1500 frames of 20 ms.

The encoder has learned position embeddings for exactly `max_source_positions` frames, so every input
is padded (or cut) to one full window as Whisper's feature extractor does; audio longer than
`max_seconds` must be split into windows by the caller. `window_seconds` shortens the window (the first
positions are kept, as whisper.cpp's audio_ctx does): an 8 s window costs about a quarter of a 30 s one, and a
model trained on such features must be run with the same window (its config records it).

Weights come from a Hugging Face layout or from a CTranslate2 export (faster-whisper's format, e.g. the
packaged tiny.en of `modrwkv.encoders.packaged.whisper_tiny_en()`), converted here to transformers' modules.
"""
from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from modrwkv.encoders import register
from modrwkv.encoders.base import Encoder, as_batch, hub_errors
from modrwkv.encoders.ctranslate2_reader import CTranslate2FormatError, read_ctranslate2
from modrwkv.encoders.media import SAMPLE_RATE, AudioItem, load_audio_item

if TYPE_CHECKING:
    from transformers import WhisperConfig, WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

HOP_LENGTH = 160  # 10 ms mel frames at 16 kHz; the encoder's stride-2 convolution makes 20 ms features
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH // 2


@register
class WhisperEncoder(Encoder):
    """Features [B, L, d_model], 50 per second of audio.

    The frames after the longest input of the batch (the padding of the 30 s window) are dropped:
    they encode silence, and each costs the language model a token. Of n valid mel frames, ceil(n/2) features are
    kept (the stride-2 convolution's output for them); `upstream_frames` keeps n//2 + 1 instead, as upstream
    WorldRWKV does (one more for an even n).
    """

    name = "whisper"
    modality = "audio"
    input_names = ("input_features", "attention_mask")

    def __init__(self, model: HFWhisperEncoder, feature_extractor: WhisperFeatureExtractor) -> None:
        super().__init__()
        self.model = model.eval()
        self.feature_extractor = feature_extractor
        self.window_seconds: int | None = None  # None: the model's own window
        self.upstream_frames = False  # True: keep n//2 + 1 features of n valid mel frames, not ceil(n/2)

    def shorten_window(self, seconds: int) -> WhisperEncoder:
        """Keep the first `seconds` (whole, at most the model's window) of position embeddings; returns self."""
        frames = self.model.config.max_source_positions
        if not isinstance(seconds, int) or not 1 <= seconds * FRAMES_PER_SECOND <= frames:
            raise ValueError("window_seconds must be a whole number of seconds from 1 to "
                             f"{frames // FRAMES_PER_SECOND}, got {seconds!r}")
        kept = seconds * FRAMES_PER_SECOND
        old = self.model.embed_positions
        self.model.embed_positions = torch.nn.Embedding(kept, old.embedding_dim, dtype=old.weight.dtype)
        self.model.embed_positions.weight.data.copy_(old.weight.data[:kept])
        self.model.embed_positions.requires_grad_(old.weight.requires_grad)
        self.model.config.max_source_positions = kept
        self.feature_extractor = _feature_extractor(self.model.config)
        self.window_seconds = seconds
        return self

    def load_options(self) -> dict[str, Any]:
        return (
            ({"window_seconds": self.window_seconds} if self.window_seconds else {})
            | ({"upstream_frames": True} if self.upstream_frames else {})
        )

    def architecture(self) -> dict[str, Any]:
        # random weights are rebuilt by random(**architecture()): the shortened window is in the config already
        return super().architecture() | ({"upstream_frames": True} if self.upstream_frames else {})

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
        return hidden[:, : self._kept(int(attention_mask.sum(-1).max()), hidden.shape[1])]

    def rows(self, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The window is always whole (padded), so rows are independent: each is cut at its own audio's end."""
        hidden = self.model(inputs["input_features"]).last_hidden_state
        mask = inputs.get("attention_mask")
        if mask is None:
            return list(hidden.split(1))
        return [hidden[i: i + 1, : self._kept(int(valid), hidden.shape[1])] for i, valid in enumerate(mask.sum(-1))]

    def _kept(self, valid: int, positions: int) -> int:
        """How many features to keep for `valid` mel frames of audio."""
        if self.upstream_frames:
            # upstream WorldRWKV (github.com/JL-er/WorldRWKV 99687e5, world/encoder/whisper_encoder.py):
            # `chunk = torch.sum(input_dict['attention_mask'], dim=-1)//2+1; x = x[:,:chunk,:]`
            return min(valid // 2 + 1, positions)
        return math.ceil(valid / 2)

    @classmethod
    def from_pretrained(
        cls, source: str | os.PathLike, window_seconds: int | None = None, upstream_frames: bool = False,
        **kwargs: Any,
    ) -> WhisperEncoder:
        """`kwargs` go to `WhisperModel.from_pretrained` (e.g. `dtype`, `revision`); the decoder is discarded.

        A local folder holding a CTranslate2 `model.bin` is converted instead; it takes only `dtype`
        (default float32, whatever the stored precision). `window_seconds`: see `shorten_window`;
        `upstream_frames`: see the class.
        """
        if (Path(source) / "model.bin").is_file():
            encoder = cls._from_ctranslate2(Path(source), **kwargs)
        else:
            from transformers import WhisperFeatureExtractor, WhisperModel

            with hub_errors(source):
                model = WhisperModel.from_pretrained(source, **kwargs).get_encoder()
                feature_extractor = WhisperFeatureExtractor.from_pretrained(source, revision=kwargs.get("revision"))
            encoder = cls(model, feature_extractor)
        encoder.upstream_frames = bool(upstream_frames)
        return encoder.shorten_window(window_seconds) if window_seconds is not None else encoder

    @classmethod
    def _from_ctranslate2(cls, folder: Path, dtype: torch.dtype = torch.float32) -> WhisperEncoder:
        path = folder / "model.bin"
        exported = read_ctranslate2(path)
        if exported.spec != "WhisperSpec":
            raise CTranslate2FormatError(f"{path}: a CTranslate2 '{exported.spec}', not a Whisper model")
        from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

        config, state_dict = _whisper_encoder_from_ctranslate2(exported.variables, path)
        model = HFWhisperEncoder(config)
        model.load_state_dict(state_dict)
        # CTranslate2 exports carry no preprocessor_config.json: Whisper's defaults, sized to the weights.
        return cls(model.to(dtype), _feature_extractor(config))

    @classmethod
    def random(
        cls, config: WhisperConfig | None = None, upstream_frames: bool = False, **kwargs: Any
    ) -> WhisperEncoder:
        """Random weights; by default a 2 s window (100 positions) of width 32. `kwargs` override config fields;
        `upstream_frames`: see the class.

        `max_source_positions` must be a multiple of 50 (whole seconds), the feature extractor's unit.
        """
        from transformers import WhisperConfig
        from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

        if config is None:
            config = WhisperConfig(
                d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64, max_source_positions=100
            )
        config = copy.deepcopy(config)  # kwargs must not change the caller's config
        config.update(kwargs)
        if config.max_source_positions % FRAMES_PER_SECOND:
            raise ValueError(
                f"max_source_positions must be a multiple of {FRAMES_PER_SECOND}, got {config.max_source_positions}"
            )
        encoder = cls(HFWhisperEncoder(config), _feature_extractor(config))
        encoder.upstream_frames = bool(upstream_frames)
        return encoder


def _feature_extractor(config: WhisperConfig) -> WhisperFeatureExtractor:
    """Whisper's log-mel settings with the window that the config's position embeddings cover."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(
        feature_size=config.num_mel_bins,
        sampling_rate=SAMPLE_RATE,
        hop_length=HOP_LENGTH,
        chunk_length=config.max_source_positions // FRAMES_PER_SECOND,
    )


def _whisper_encoder_from_ctranslate2(
    variables: dict[str, torch.Tensor], path: Path
) -> tuple[WhisperConfig, dict[str, torch.Tensor]]:
    """transformers' `WhisperEncoder` config and state dict from a CTranslate2 WhisperSpec's `encoder/...` variables.

    Sizes are read from the shapes; the head count is stored as the scalar `encoder/num_heads`.
    """
    from transformers import WhisperConfig

    def get(name: str) -> torch.Tensor:
        if f"encoder/{name}" not in variables:
            raise CTranslate2FormatError(f"{path}: no variable 'encoder/{name}' (not a Whisper encoder export?)")
        return variables[f"encoder/{name}"].float()

    def linear(ct2: str, hf: str) -> dict[str, torch.Tensor]:
        return {f"{hf}.weight": get(f"{ct2}/weight"), f"{hf}.bias": get(f"{ct2}/bias")}

    def norm(ct2: str, hf: str) -> dict[str, torch.Tensor]:
        return {f"{hf}.weight": get(f"{ct2}/gamma"), f"{hf}.bias": get(f"{ct2}/beta")}

    n_layers = sum(bool(re.fullmatch(r"encoder/layer_\d+/ffn/linear_0/weight", name)) for name in variables)
    d_model, n_mels, _ = get("conv1/weight").shape
    state = {
        **linear("conv1", "conv1"),
        **linear("conv2", "conv2"),
        "embed_positions.weight": get("position_encodings/encodings"),
        **norm("layer_norm", "layer_norm"),
    }
    for i in range(n_layers):
        ct2, hf = f"layer_{i}", f"layers.{i}"
        # q, k and v are fused into one [3*d_model, d_model] linear. Whisper's k has no bias (CTranslate2
        # stores zeros there): a bias on k adds the same q.b_k to every score of a query, which softmax ignores.
        q, k, v = get(f"{ct2}/self_attention/linear_0/weight").chunk(3)
        q_bias, _, v_bias = get(f"{ct2}/self_attention/linear_0/bias").chunk(3)
        state |= {
            f"{hf}.self_attn.q_proj.weight": q, f"{hf}.self_attn.q_proj.bias": q_bias,
            f"{hf}.self_attn.k_proj.weight": k,
            f"{hf}.self_attn.v_proj.weight": v, f"{hf}.self_attn.v_proj.bias": v_bias,
            **linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj"),
            **norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm"),
            **linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1"),
            **linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2"),
            **norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm"),
        }
    config = WhisperConfig(
        d_model=d_model,
        num_mel_bins=n_mels,
        encoder_layers=n_layers,
        encoder_attention_heads=int(get("num_heads")),
        encoder_ffn_dim=get("layer_0/ffn/linear_0/weight").shape[0],
        max_source_positions=state["embed_positions.weight"].shape[0],
    )
    return config, state
