"""Procedurally drawn scenes with exact captions: a few easy-VQA-like shapes, colours, positions and a short word.

They widen the alignment data beyond easy-VQA's one shape per image (counts, positions, several colours, text),
and every caption is true by construction. The same seed draws the same scenes, pixel for pixel.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 128  # pixels a side; the encoder letterboxes to 224 as it does easy-VQA's 64 x 64 images
# easy-VQA's colour and shape vocabulary, so the words the model learns here are the ones its questions use
COLORS = {"red": (230, 25, 25), "green": (20, 160, 40), "blue": (25, 40, 230), "black": (10, 10, 10),
          "gray": (128, 128, 128), "teal": (0, 128, 128), "brown": (140, 70, 20), "yellow": (240, 220, 0)}
SHAPES = ("circle", "rectangle", "triangle")
WORDS = ("CAT", "SUN", "GO", "STOP", "HI", "OK", "RWKV", "BOX")
PLACES = ("top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right")
COUNTS = ("one", "two", "three")


@dataclass(frozen=True)
class Scene:
    image: Path
    caption: str


def draw_scenes(folder: Path, count: int, seed: int = 0) -> list[Scene]:
    """`count` PNGs in `folder` (0000.png, ...) with their captions; files already as drawn are not rewritten (the
    feature cache keys on their modification time)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    font = ImageFont.load_default(size=16)
    scenes = []
    for index in range(count):
        image, caption = _scene(rng, font)
        path = folder / f"{index:04d}.png"
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        if not path.exists() or path.read_bytes() != buffer.getvalue():  # an unchanged file keeps its cached features
            path.write_bytes(buffer.getvalue())
        scenes.append(Scene(path, caption))
    return scenes


def _scene(rng: random.Random, font: ImageFont.FreeTypeFont) -> tuple[Image.Image, str]:
    background = tuple(rng.randint(225, 255) for _ in range(3))  # pale, like easy-VQA's backgrounds
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    cell = SIZE // 3
    cells = rng.sample(range(9), 4)  # one cell per object: nothing overlaps, so every caption word is visible
    n_shapes = rng.randint(1, 3)
    objects = []
    for place in cells[:n_shapes]:
        shape, color = rng.choice(SHAPES), rng.choice(list(COLORS))
        half = rng.randint(cell // 4, cell // 2 - 2)
        cx = (place % 3) * cell + cell // 2 + rng.randint(-(cell // 2 - half), cell // 2 - half)
        cy = (place // 3) * cell + cell // 2 + rng.randint(-(cell // 2 - half), cell // 2 - half)
        _draw_shape(draw, shape, COLORS[color], cx, cy, half)
        objects.append(f"a {color} {shape} at the {PLACES[place]}")
    counted = f"{COUNTS[n_shapes - 1].capitalize()} shape{'s' if n_shapes > 1 else ''}: "
    caption = counted + (", ".join(objects[:-1]) + " and " + objects[-1] if n_shapes > 1 else objects[0]) + "."
    if rng.random() < 0.4:
        word, place = rng.choice(WORDS), cells[n_shapes]
        half_width = draw.textlength(word, font=font) / 2
        x = min(max((place % 3) * cell + cell // 2, half_width + 1), SIZE - half_width - 1)  # wholly on the canvas
        y = (place // 3) * cell + cell // 2
        draw.text((x, y), word, fill=(0, 0, 0), font=font, anchor="mm")
        caption += f' The word "{word}" is written at the {PLACES[place]}.'
    return image, caption


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, color: tuple[int, int, int], cx: int, cy: int,
                half: int) -> None:
    if shape == "circle":
        draw.ellipse((cx - half, cy - half, cx + half, cy + half), fill=color)
    elif shape == "rectangle":
        draw.rectangle((cx - half, cy - half * 2 // 3, cx + half, cy + half * 2 // 3), fill=color)
    else:
        draw.polygon(((cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)), fill=color)
