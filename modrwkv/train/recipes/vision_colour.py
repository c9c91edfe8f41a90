"""The colour of a cut-out, named only when one basic colour clearly dominates its visible pixels.

Most pictures of real things have several colours (a zebra, a clown, a photo of a cow in shade): asking "What
colour is it?" of those has no one answer, so `dominant_colour` says None unless a single colour covers most of the
thing. Pixel colours are named by hue, saturation and brightness with the basic English colour words.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray")
# what a thing's colour is said to be: in drawings, black, white and gray are mostly outlines and blank fills
NAMED = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
SHARE = 0.6  # of the visible pixels that must have the colour for it to be the thing's colour
_HUES = ((15, "red"), (40, "orange"), (70, "yellow"), (165, "green"), (255, "blue"), (290, "purple"),
         (340, "pink"), (360, "red"))  # upper hue bound (degrees) of each colour


def pixel_colours(rgb: np.ndarray) -> np.ndarray:
    """The basic colour name of each pixel of an [N, 3] uint8 array, as indices into COLOURS."""
    values = rgb.astype(np.float32) / 255
    high, low = values.max(axis=1), values.min(axis=1)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0)
    r, g, b = values.T
    safe = np.maximum(chroma, 1e-6)
    hue = np.select([high == r, high == g], [((g - b) / safe) % 6, (b - r) / safe + 2], (r - g) / safe + 4) * 60
    names = np.full(len(rgb), COLOURS.index("gray"))
    for bound, name in reversed(_HUES):
        names[hue < bound] = COLOURS.index(name)
    # dark oranges and reds are brown; unsaturated pixels are black, white or gray by brightness
    brown = (names == COLOURS.index("orange")) | (names == COLOURS.index("red"))
    names[brown & (high < 0.6) & (saturation > 0.25)] = COLOURS.index("brown")
    grey = (saturation < 0.2) | (high < 0.15)
    names[grey] = COLOURS.index("gray")
    names[grey & (high < 0.25)] = COLOURS.index("black")
    names[grey & (high > 0.85)] = COLOURS.index("white")
    return names


def dominant_colour(image: Image.Image, share: float = SHARE, named: tuple[str, ...] = NAMED) -> str | None:
    """The colour of at least `share` of the image's visible (alpha > 200) pixels if it is one of `named`, or
    None."""
    if image.mode != "RGBA":
        raise ValueError(f"expected an RGBA cut-out, got mode {image.mode}")
    small = image.copy()
    small.thumbnail((64, 64))
    pixels = np.asarray(small).reshape(-1, 4)
    visible = pixels[pixels[:, 3] > 200, :3]
    if len(visible) < 16:
        return None
    counts = np.bincount(pixel_colours(visible), minlength=len(COLOURS))
    best = int(counts.argmax())
    return COLOURS[best] if counts[best] >= share * len(visible) and COLOURS[best] in named else None
