"""CLIP vision tower (e.g. `openai/clip-vit-large-patch14-336`, LLaVA's encoder).

Features are LLaVA's: the penultimate layer's patch tokens, without the CLS token. The last layer is
trained to pool into the CLS token for the contrastive loss, so its patch tokens carry less local
detail; LLaVA measured the penultimate layer to work better for a language model reading the image.
"""
from __future__ import annotations

from typing import Any

import torch

from modrwkv.encoders import register
from modrwkv.encoders.vision_tower import VisionTower

FEATURE_LAYER = -2  # index into hidden_states (whose first entry is the embeddings): the penultimate layer


@register
class CLIPEncoder(VisionTower):
    """Patch features [B, (image_size / patch_size)^2, hidden_size] of the penultimate layer."""

    name = "clip"
    model_class = "CLIPVisionModel"
    config_class = "CLIPVisionConfig"

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden_states = self.model(pixel_values=pixel_values, output_hidden_states=True).hidden_states
        return hidden_states[FEATURE_LAYER][:, 1:]  # position 0 is CLS

    @classmethod
    def processor_for(cls, size: int) -> Any:
        from transformers import CLIPImageProcessorPil
        from transformers.utils.constants import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

        # CLIP's own recipe: resize the short side, centre-crop a square, normalise with OpenAI's statistics.
        return CLIPImageProcessorPil(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size},
            image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD,
        )
