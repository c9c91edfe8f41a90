"""SigLIP 2 vision tower, ModRWKV's default image encoder (`google/siglip2-base-patch16-384`: 576 patches of 768).

The fixed-resolution ("FixRes") SigLIP 2 checkpoints are SigLIP v1 architectures (`model_type: siglip`,
Conv2d patch embedding), so they load with `SiglipVisionModel` and `SiglipImageProcessor`; transformers'
`Siglip2VisionModel` is the NaFlex variant (variable resolution, Linear patch embedding) and cannot read them.
"""
from __future__ import annotations

from typing import Any

import torch

from modrwkv.encoders import register
from modrwkv.encoders.vision_tower import VisionTower


@register
class SigLIP2Encoder(VisionTower):
    """Patch features of the last layer, [B, (image_size / patch_size)^2, hidden_size]; SigLIP has no CLS token."""

    name = "siglip2"
    model_class = "SiglipVisionModel"
    config_class = "SiglipVisionConfig"

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).last_hidden_state

    @classmethod
    def processor_for(cls, size: int) -> Any:
        from transformers import SiglipImageProcessorPil

        # SigLIP normalises to [-1, 1] (mean = std = 0.5) after a square resize.
        return SiglipImageProcessorPil(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
