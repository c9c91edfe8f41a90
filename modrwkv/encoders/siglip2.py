"""SigLIP 2 vision tower, ModRWKV's default image encoder (`google/siglip2-base-patch16-384`: 576 patches of 768).

The fixed-resolution ("FixRes") SigLIP 2 checkpoints are SigLIP v1 architectures (`model_type: siglip`,
Conv2d patch embedding), so they load with `SiglipVisionModel` and `SiglipImageProcessor`; transformers'
`Siglip2VisionModel` is the NaFlex variant (variable resolution, Linear patch embedding) and cannot read them.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from modrwkv.encoders import register
from modrwkv.encoders.base import Encoder, as_batch, hub_errors
from modrwkv.encoders.media import ImageInput, load_image

if TYPE_CHECKING:
    from transformers import BaseImageProcessor, SiglipVisionConfig, SiglipVisionModel


@register
class SigLIP2Encoder(Encoder):
    """Patch features of the last layer, [B, (image_size / patch_size)^2, hidden_size]; SigLIP has no CLS token."""

    name = "siglip2"
    modality = "image"
    input_names = ("pixel_values",)

    def __init__(self, model: SiglipVisionModel, processor: BaseImageProcessor) -> None:
        super().__init__()
        self.model = model.eval()
        self.processor = processor

    @property
    def output_dim(self) -> int:
        return self.model.config.hidden_size

    def preprocess(self, items: Sequence[ImageInput]) -> dict[str, torch.Tensor]:
        images = [load_image(item) for item in as_batch(items)]
        return {"pixel_values": self.processor(images=images, return_tensors="pt")["pixel_values"]}

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).last_hidden_state

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> SigLIP2Encoder:
        """`kwargs` go to `SiglipVisionModel.from_pretrained` (e.g. `dtype`, `revision`)."""
        from transformers import AutoImageProcessor, SiglipVisionModel

        with hub_errors(source):
            model = SiglipVisionModel.from_pretrained(source, **kwargs)
            processor = AutoImageProcessor.from_pretrained(source, revision=kwargs.get("revision"))
        return cls(model, processor)

    @classmethod
    def random(cls, config: SiglipVisionConfig | None = None, **kwargs: Any) -> SigLIP2Encoder:
        """Random weights; by default 32x32 images in 8x8 patches (16 tokens of 32). `kwargs` override config fields."""
        from transformers import SiglipImageProcessorPil, SiglipVisionConfig, SiglipVisionModel

        if config is None:
            config = SiglipVisionConfig(
                hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                patch_size=8,
            )
        config = copy.deepcopy(config)  # kwargs must not change the caller's config
        config.update(kwargs)
        size = config.image_size
        # The PIL backend needs no torchvision; SigLIP normalises to [-1, 1] (mean = std = 0.5).
        processor = SiglipImageProcessorPil(
            size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3
        )
        return cls(SiglipVisionModel(config), processor)
