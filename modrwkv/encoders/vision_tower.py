"""What the transformers vision towers (SigLIP2, CLIP) share: image loading, the processor, loading, random weights."""
from __future__ import annotations

import copy
import os
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from modrwkv.encoders.base import Encoder, as_batch, hub_errors
from modrwkv.encoders.media import ImageInput, load_image

# The tiny default of `random()`: 32x32 images in 8x8 patches, 16 tokens of width 32.
TINY = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
)


class VisionTower(Encoder):
    """A transformers vision model and its image processor. Subclasses name the classes and the processor."""

    modality = "image"
    input_names = ("pixel_values",)
    model_class: ClassVar[str]  # transformers class names, imported lazily so the registry imports fast
    config_class: ClassVar[str]

    def __init__(self, model: torch.nn.Module, processor: Any) -> None:
        super().__init__()
        self.model = model.eval()
        self.processor = processor

    @property
    def output_dim(self) -> int:
        return self.model.config.hidden_size

    def preprocess(self, items: Sequence[ImageInput]) -> dict[str, torch.Tensor]:
        images = [load_image(item) for item in as_batch(items)]
        return {"pixel_values": self.processor(images=images, return_tensors="pt")["pixel_values"]}

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> VisionTower:
        """`kwargs` go to the model class's `from_pretrained` (e.g. `dtype`, `revision`)."""
        import transformers

        with hub_errors(source):
            model = getattr(transformers, cls.model_class).from_pretrained(source, **kwargs)
            processor = transformers.AutoImageProcessor.from_pretrained(source, revision=kwargs.get("revision"))
        return cls(model, processor)

    @classmethod
    def random(cls, config: Any = None, **kwargs: Any) -> VisionTower:
        """Random weights, by default the tiny TINY config. `kwargs` override config fields (on a copy)."""
        import transformers

        config = copy.deepcopy(config) if config is not None else getattr(transformers, cls.config_class)(**TINY)
        config.update(kwargs)
        return cls(getattr(transformers, cls.model_class)(config), cls.processor_for(config.image_size))

    @classmethod
    @abstractmethod
    def processor_for(cls, size: int) -> Any:
        """The image processor of this family for square `size` inputs (PIL backend: no torchvision needed)."""
