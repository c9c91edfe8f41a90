"""Pictures composed from cut-outs: one thing, several copies of one thing, or two things side by side, on a plain,
gradient, noise, blurred-picture or wallpaper background.

A `Scene` holds everything its pixels depend on (which cut-outs, where, mirrored or not, the background and its
seed), so the questions about it (`vision_questions`) are true by construction and `render` draws the same pixels
every time. Copies never overlap and keep a gap between them, so each one can be seen and counted; a thing said to
be on the left has all of it in the left half.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from modrwkv.train.recipes.vision_sources import Source, cutout

SIZE = 224  # the encoders' input size: the picture is seen as drawn
GAP = 6  # pixels between copies, so that two copies never touch
BACKGROUNDS = ("plain", "gradient", "noise", "blur", "wallpaper")
# abstract desktop-base wallpapers (GPL / CC-BY-SA), used where the package is installed
WALLPAPERS = tuple(p for p in sorted(Path("/usr/share/desktop-base").glob("*-theme/grub/grub-4x3.png"))
                   if not p.parent.parent.is_symlink())  # active-theme links to one of the others


@dataclass(frozen=True)
class Placement:
    source: Source
    box: tuple[int, int, int, int]  # left, top, right, bottom on the canvas: the cut-out is scaled to fill it
    flip: bool  # mirrored left to right

    @property
    def centre_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2


@dataclass(frozen=True)
class Background:
    kind: str  # one of BACKGROUNDS
    seed: int
    picture: Source | None = None  # "blur": the cut-out blurred behind
    wallpaper: str | None = None  # "wallpaper": the image file


@dataclass(frozen=True)
class Scene:
    layout: str  # "single", "count" (copies of one thing) or "pair" (two different things, left and right)
    placements: tuple[Placement, ...]
    background: Background
    where: str | None = None  # "single": "left", "middle" or "right"

    @property
    def key(self) -> str:
        """A hash of everything the pixels depend on: the rendered file's name."""
        spec = {"layout": self.layout, "bg": [self.background.kind, self.background.seed,
                                             self.background.picture.id if self.background.picture else None,
                                             self.background.wallpaper],
                "things": [[p.source.id, p.box, p.flip] for p in self.placements]}
        return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


class Planner:
    """Plans scenes from cut-outs, whose sizes it reads once (through the cut-out cache in `cache`)."""

    def __init__(self, cache: Path | None, backdrops: Sequence[Source]):
        self.cache = cache
        self.backdrops = list(backdrops)  # cut-outs that may be blurred into backgrounds
        self._sizes: dict[str, tuple[int, int]] = {}

    def size(self, source: Source) -> tuple[int, int]:
        if source.id not in self._sizes:
            self._sizes[source.id] = cutout(source, self.cache).size
        return self._sizes[source.id]

    def background(self, rng: random.Random) -> Background:
        kinds = [k for k in BACKGROUNDS if (k != "blur" or self.backdrops) and (k != "wallpaper" or WALLPAPERS)]
        kind = rng.choice(kinds)
        seed = rng.getrandbits(32)
        if kind == "blur":
            return Background(kind, seed, picture=rng.choice(self.backdrops))
        if kind == "wallpaper":
            return Background(kind, seed, wallpaper=str(rng.choice(WALLPAPERS)))
        return Background(kind, seed)

    def single(self, source: Source, rng: random.Random, where: str | None = None) -> Scene:
        """One thing, on the left, in the middle or on the right (`where`; chosen at random when None)."""
        where = where or rng.choice(("left", "middle", "right"))
        if where == "middle":
            box = self._fit(source, (0, 0, SIZE, SIZE), rng.uniform(0.5, 0.9), rng)
        else:
            half = (0, 0, SIZE // 2, SIZE) if where == "left" else (SIZE // 2, 0, SIZE, SIZE)
            box = self._fit(source, _shrink(half, GAP), rng.uniform(0.7, 1.0), rng)
        return Scene("single", (Placement(source, box, rng.random() < 0.5),), self.background(rng), where)

    def count(self, source: Source, copies: int, rng: random.Random) -> Scene:
        """`copies` (1 to 4) copies of one thing, each in its own cell of the canvas."""
        if not 1 <= copies <= 4:
            raise ValueError(f"a scene holds 1 to 4 copies, got {copies}")
        cells = _cells(copies, rng)
        placements = tuple(Placement(source, self._fit(source, _shrink(cell, GAP // 2 + 1), rng.uniform(0.65, 1.0),
                                                       rng), rng.random() < 0.5) for cell in cells)
        return Scene("count", placements, self.background(rng))

    def pair(self, left: Source, right: Source, rng: random.Random) -> Scene:
        """Two different things, one in each half."""
        if left.name == right.name:
            raise ValueError(f"a pair needs two different things, got {left.name!r} twice")
        boxes = [self._fit(s, _shrink(half, GAP), rng.uniform(0.7, 1.0), rng)
                 for s, half in ((left, (0, 0, SIZE // 2, SIZE)), (right, (SIZE // 2, 0, SIZE, SIZE)))]
        placements = tuple(Placement(s, box, rng.random() < 0.5) for s, box in zip((left, right), boxes))
        return Scene("pair", placements, self.background(rng))

    def _fit(self, source: Source, cell: tuple[int, int, int, int], scale: float,
             rng: random.Random) -> tuple[int, int, int, int]:
        """A box with the cut-out's proportions, `scale` of the largest that fits in `cell`, placed at random in it."""
        width, height = self.size(source)
        cell_w, cell_h = cell[2] - cell[0], cell[3] - cell[1]
        fit = min(cell_w / width, cell_h / height) * scale
        w, h = max(8, min(cell_w, round(width * fit))), max(8, min(cell_h, round(height * fit)))
        left = cell[0] + rng.randint(0, cell_w - w)
        top = cell[1] + rng.randint(0, cell_h - h)
        return left, top, left + w, top + h


def _shrink(box: tuple[int, int, int, int], by: int) -> tuple[int, int, int, int]:
    return box[0] + by, box[1] + by, box[2] - by, box[3] - by


def _cells(copies: int, rng: random.Random) -> list[tuple[int, int, int, int]]:
    """Disjoint cells for the copies: a row, a column or a grid, so copies never overlap."""
    third = SIZE // 3
    half = SIZE // 2
    options = {
        1: [[(0, 0, SIZE, SIZE)]],
        2: [[(0, 0, half, SIZE), (half, 0, SIZE, SIZE)], [(0, 0, SIZE, half), (0, half, SIZE, SIZE)]],
        3: [[(i * third, 0, (i + 1) * third, SIZE) for i in range(3)],
            [(0, 0, half, half), (half, 0, SIZE, half), (half // 2, half, half // 2 + half, SIZE)]],
        4: [[(x, y, x + half, y + half) for y in (0, half) for x in (0, half)]],
    }
    return rng.choice(options[copies])


def render(scene: Scene, cache: Path | None = None) -> Image.Image:
    """The scene's RGB pixels (SIZE x SIZE); cut-outs are read through the cache folder `cache`."""
    image = background_image(scene.background, cache)
    for placement in scene.placements:
        thing = cutout(placement.source, cache)
        if placement.flip:
            thing = thing.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        left, top, right, bottom = placement.box
        thing = thing.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
        image.alpha_composite(thing, (left, top))
    return image.convert("RGB")


def background_image(background: Background, cache: Path | None = None) -> Image.Image:
    """The background alone, RGBA."""
    rng = np.random.default_rng(background.seed)
    colours = rng.integers(0, 256, size=(2, 3))
    if background.kind == "plain":
        return Image.new("RGBA", (SIZE, SIZE), tuple(int(c) for c in colours[0]) + (255,))
    if background.kind == "gradient":
        t = np.linspace(0, 1, SIZE, dtype=np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * t[None, :] + np.sin(angle) * t[:, None]
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        pixels = colours[0] * (1 - ramp[..., None]) + colours[1] * ramp[..., None]
        return Image.fromarray(pixels.astype(np.uint8)).convert("RGBA")
    if background.kind == "noise":  # a smooth random field with grain: like an out-of-focus photo
        coarse = rng.integers(0, 256, size=(int(rng.integers(3, 9)),) * 2 + (3,)).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((SIZE, SIZE), Image.Resampling.BICUBIC), np.float32)
        grain = rng.normal(0, rng.uniform(2, 12), size=(SIZE, SIZE, 1))
        return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8)).convert("RGBA")
    if background.kind == "blur" and background.picture is not None:
        canvas = Image.new("RGBA", (SIZE, SIZE), tuple(int(c) for c in colours[0]) + (255,))
        picture = cutout(background.picture, cache)
        scale = SIZE * rng.uniform(1.2, 2.5) / min(picture.size)  # larger than the canvas: a close-up
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
        x = int(rng.integers(0, max(1, picture.width - SIZE + 1)))
        y = int(rng.integers(0, max(1, picture.height - SIZE + 1)))
        canvas.alpha_composite(picture.crop((x, y, x + SIZE, y + SIZE)))
        return canvas.filter(ImageFilter.GaussianBlur(rng.uniform(8, 16)))
    if background.kind == "wallpaper" and background.wallpaper is not None:
        with Image.open(background.wallpaper) as file:
            wallpaper = file.convert("RGBA")
        side = int(min(wallpaper.size) * rng.uniform(0.4, 1.0))
        x = int(rng.integers(0, wallpaper.width - side + 1))
        y = int(rng.integers(0, wallpaper.height - side + 1))
        return wallpaper.crop((x, y, x + side, y + side)).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    raise ValueError(f"background {background.kind!r} needs its picture or wallpaper; got {background}")
