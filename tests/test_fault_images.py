"""The odd images visitors really have: each is read as the picture it is, or refused with a message that names the
file and says what is accepted."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modrwkv.encoders.media import MediaError, load_image


def _photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((120, 200, 3)) * 255).astype(np.uint8))


def _truncated(fmt: str) -> bytes:
    raw = io.BytesIO()
    _photo().save(raw, fmt)
    return raw.getvalue()[: len(raw.getvalue()) // 2]


def _write(path: Path, make) -> Path:
    made = make()
    if isinstance(made, bytes):
        path.write_bytes(made)
    else:
        made(path)
    return path


def _animated(path: Path) -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "green", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _rotated(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    _photo().save(path, exif=exif)


READ = {  # file -> (its maker, the size it is read at)
    "cmyk.jpg": (lambda: lambda p: _photo().convert("CMYK").save(p), (200, 120)),
    "animated.gif": (lambda: _animated, (64, 48)),
    "photo.webp": (lambda: lambda p: _photo().save(p), (200, 120)),
    "rotated.jpg": (lambda: _rotated, (120, 200)),
    "pixel.png": (lambda: lambda p: Image.new("RGB", (1, 1), "red").save(p), (1, 1)),
    "palette.png": (lambda: lambda p: _photo().convert("P").save(p), (200, 120)),
    "transparent.png": (lambda: lambda p: Image.new("LA", (40, 30), (128, 0)).save(p), (40, 30)),
}
REFUSED = {  # file -> (its maker, what the message says)
    "bomb.png": (lambda: lambda p: Image.new("1", (30000, 30000)).save(p), "too many pixels"),
    "notes.png": (lambda: b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n", "not an image"),
    "empty.png": (lambda: b"", "not an image"),
    "truncated.png": (lambda: _truncated("PNG"), "could not be decoded"),
    "truncated.jpg": (lambda: _truncated("JPEG"), "could not be decoded"),
}


@pytest.mark.parametrize("name", sorted(READ))
def test_an_odd_but_valid_image_is_read_as_an_rgb_picture(tmp_path: Path, name: str) -> None:
    make, size = READ[name]
    image = load_image(str(_write(tmp_path / name, make)))
    assert image.mode == "RGB" and image.size == size


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_file_that_is_not_a_readable_image_is_refused_by_name(tmp_path: Path, name: str) -> None:
    make, says = REFUSED[name]
    with pytest.raises(MediaError, match=says) as refused:
        load_image(str(_write(tmp_path / name, make)))
    assert name in str(refused.value) and "accepted formats" in str(refused.value)


def test_a_16_bit_greyscale_png_keeps_its_tones(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 120 * 200).reshape(120, 200).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "scan.png")
    grey = np.asarray(load_image(str(tmp_path / "scan.png")))[..., 0].astype(int)
    assert grey[0, 0] == 0 and grey[-1, -1] == 255 and abs(grey.mean() - 127.5) < 2
