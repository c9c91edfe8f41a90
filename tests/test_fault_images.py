"""The odd images visitors really have: each is read as the picture it is, or refused with a message that names the
file and says what is accepted. The files are the fault corpus's (modrwkv/bench/fault_corpus.py), made of a picture
whose size shows how it was read."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modrwkv.bench.fault_corpus import (
    PDF,
    Maker,
    animated_gif,
    decompression_bomb,
    exif_rotated,
    grey_16bit,
    noise_photo,
    raw_bytes,
    saved,
    truncated_image,
)
from modrwkv.encoders.media import MediaError, load_image

PHOTO = noise_photo(200, 120)

READ: dict[str, tuple[Maker, tuple[int, int]]] = {  # file -> (its maker, the size it is read at)
    "cmyk.jpg": (saved(PHOTO, "CMYK"), (200, 120)),
    "animated.gif": (animated_gif([Image.new("RGB", (64, 48), c) for c in ("red", "green", "blue")]), (64, 48)),
    "photo.webp": (saved(PHOTO), (200, 120)),
    "photo.avif": (saved(PHOTO), (200, 120)),
    "rotated.jpg": (exif_rotated(PHOTO), (120, 200)),
    "pixel.png": (saved(Image.new("RGB", (1, 1), "red")), (1, 1)),
    "palette.png": (saved(PHOTO, "P"), (200, 120)),
    "transparent.png": (saved(Image.new("LA", (40, 30), (128, 0))), (40, 30)),
}
REFUSED: dict[str, tuple[Maker, str]] = {  # file -> (its maker, what the message says)
    "bomb.png": (decompression_bomb, "too many pixels"),
    "notes.png": (raw_bytes(PDF), "not an image"),
    "empty.png": (raw_bytes(b""), "not an image"),
    "truncated.png": (truncated_image(PHOTO, "PNG"), "could not be decoded"),
    "truncated.jpg": (truncated_image(PHOTO, "JPEG"), "could not be decoded"),
}


@pytest.mark.parametrize("name", sorted(READ))
def test_an_odd_but_valid_image_is_read_as_an_rgb_picture(tmp_path: Path, name: str) -> None:
    make, size = READ[name]
    make(tmp_path / name)
    image = load_image(str(tmp_path / name))
    assert image.mode == "RGB" and image.size == size


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_file_that_is_not_a_readable_image_is_refused_by_name(tmp_path: Path, name: str) -> None:
    make, says = REFUSED[name]
    make(tmp_path / name)
    with pytest.raises(MediaError, match=says) as refused:
        load_image(str(tmp_path / name))
    assert name in str(refused.value) and "accepted formats" in str(refused.value)


def test_a_16_bit_greyscale_png_keeps_its_tones(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 120 * 200).reshape(120, 200)
    grey_16bit(ramp)(tmp_path / "scan.png")
    grey = np.asarray(load_image(str(tmp_path / "scan.png")))[..., 0].astype(int)
    assert grey[0, 0] == 0 and grey[-1, -1] == 255 and abs(grey.mean() - 127.5) < 2
