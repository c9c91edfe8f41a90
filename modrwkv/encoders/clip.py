"""CLIP vision tower (e.g. `openai/clip-vit-large-patch14-336`, LLaVA's encoder).

Features are LLaVA's: the penultimate layer's patch tokens, without the CLS token. The last layer is
trained to pool into the CLS token for the contrastive loss, so its patch tokens carry less local
detail; LLaVA measured the penultimate layer to work better for a language model reading the image.
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
    from transformers import BaseImageProcessor, CLIPVisionConfig, CLIPVisionModel

FEATURE_LAYER = -2  # index into hidden_states (whose first entry is the embeddings): the penultimate layer


@register
class CLIPEncoder(Encoder):
    """Patch features [B, (image_size / patch_size)^2, hidden_size] of the penultimate layer."""

    name = "clip"
    modality = "image"
    input_names = ("pixel_values",)

    def __init__(self, model: CLIPVisionModel, processor: BaseImageProcessor) -> None:
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
        hidden_states = self.model(pixel_values=pixel_values, output_hidden_states=True).hidden_states
        return hidden_states[FEATURE_LAYER][:, 1:]  # position 0 is CLS

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> CLIPEncoder:
        """`kwargs` go to `CLIPVisionModel.from_pretrained` (e.g. `dtype`, `revision`)."""
        from transformers import AutoImageProcessor, CLIPVisionModel

        with hub_errors(source):
            model = CLIPVisionModel.from_pretrained(source, **kwargs)
            processor = AutoImageProcessor.from_pretrained(source, revision=kwargs.get("revision"))
        return cls(model, processor)

    @classmethod
    def random(cls, config: CLIPVisionConfig | None = None, **kwargs: Any) -> CLIPEncoder:
        """Random weights; by default 32x32 images in 8x8 patches (16 tokens of 32). `kwargs` override config fields."""
        from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModel
        from transformers.utils.constants import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

        if config is None:
            config = CLIPVisionConfig(
                hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                patch_size=8,
            )
        config = copy.deepcopy(config)  # kwargs must not change the caller's config
        config.update(kwargs)
        size = config.image_size
        # CLIP's own recipe: resize the short side, centre-crop a square, normalise with OpenAI's statistics.
        processor = CLIPImageProcessorPil(
            size={"shortest_edge": size},
            crop_size={"height": size, "width": size},
            image_mean=OPENAI_CLIP_MEAN,
            image_std=OPENAI_CLIP_STD,
        )
        return cls(CLIPVisionModel(config), processor)
