"""Images of real things that Debian packages ship, each with its canonical English name (`vision_labels`).

- Tux Paint's stamps (`tuxpaint-stamps-default`): PNG cut-outs, many of them photos, each with a .txt whose first
  line is an English caption. SVG-only stamps are left out (Pillow cannot draw SVG).
- Open Clip Art (`openclipart-png`): drawings named by folder and file name ("dog_on_leash_gerald_g._01.png");
  the folders of icons, flags, signs, shapes and logos are left out, and so is every file whose name holds no name
  of the label space (authors' names, Italian, "boating_rules3").
- Emoji (`fonts-noto-color-emoji`), named by CLDR's English text-to-speech names (`unicode-cldr-core`), skin-tone
  variants included; smileys, hands, symbols and flags are left out.

`cutout` turns any of them into an RGBA image trimmed to its visible pixels, cached on disk; `is_cutout` tells the
pictures that have a background of their own (a boxed drawing, a photo), which compositing cannot use.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from modrwkv.train.recipes.vision_labels import CATEGORY, name_in, words

TUXPAINT = Path("/usr/share/tuxpaint/stamps")
OPENCLIPART = Path("/usr/share/openclipart/png")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
CLDR = Path("/usr/share/unicode/cldr/common")
PACKAGES = {"tuxpaint": ("tuxpaint-stamps-default",), "openclipart": ("openclipart-png",),
            "emoji": ("fonts-noto-color-emoji", "unicode-cldr-core")}
EMOJI_SIZE = 109  # the one size NotoColorEmoji's bitmaps come in: other sizes are refused by FreeType
MAX_SIDE = 256  # cut-outs are scaled down to this: scenes are 224 pixels a side
MIN_SIDE = 24  # smaller images are icons or fragments, not pictures of a thing
MAX_PIXELS = 16_000_000
MIN_TRANSPARENT = 0.03  # share of a cut-out's bounding box that must be transparent


class SourceError(RuntimeError):
    """A source image that cannot be used (missing, unreadable, blank)."""


@dataclass(frozen=True)
class Source:
    id: str  # "tuxpaint:animals/mammals/dogs/dog", "openclipart:animals/mammals/dogs/x.png", "emoji:1f415"
    origin: str  # "tuxpaint", "openclipart" or "emoji"
    location: str  # the PNG's path, or the emoji's characters
    name: str  # canonical English name
    category: str
    group: str  # variants of one picture (an emoji's skin tones) share it; the split keeps a group together
    title: str  # what the source calls it: caption, file name or CLDR name


def installed(origin: str) -> bool:
    """Whether the Debian package(s) of a source are installed."""
    paths = {"tuxpaint": (TUXPAINT,), "openclipart": (OPENCLIPART,),
             "emoji": (EMOJI_FONT, CLDR / "annotations" / "en.xml")}
    if origin not in paths:
        raise ValueError(f"unknown source {origin!r}; expected one of {', '.join(paths)}")
    return all(path.exists() for path in paths[origin])


def all_sources() -> list[Source]:
    """Every usable image of the installed sources, sorted by id."""
    found = [s for origin, scan in (("tuxpaint", tuxpaint), ("openclipart", openclipart), ("emoji", emoji))
             if installed(origin) for s in scan()]
    return sorted(found, key=lambda s: s.id)


# -- Tux Paint ------------------------------------------------------------------------------------------------------

# folders of letters, money, flags and road signs: symbols, not things
_TUX_SKIP = ("symbols/", "town/flags/", "town/roadsigns/", "military/")
# what a top folder's stamps may be called: a name of another category means the file name misleads ("tux_tractor")
_TUX_CATEGORIES = {"animals": {"animal"}, "food": {"food", "plant"}, "plants": {"plant", "food"},
                   "people": {"person"}, "vehicles": {"vehicle"}, "clothes": {"clothing"}}
_SEVERAL = ("two ", "three ", "some ", "a couple ", "many ", "big fireworks")


def tuxpaint(root: Path = TUXPAINT) -> Iterator[Source]:
    """The PNG stamps with a name: from the file name ("rhino_black" -> rhinoceros), else the caption's first line."""
    for text in sorted(root.rglob("*.txt")):
        relative = text.relative_to(root).with_suffix("").as_posix()
        png = text.with_suffix(".png")
        if relative.startswith(_TUX_SKIP) or not png.exists():
            continue
        caption = text.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].strip()
        name = name_in(text.stem) or name_in(caption)
        if name is None or caption.lower().startswith(_SEVERAL):  # several things: no one name for the picture
            continue
        allowed = _TUX_CATEGORIES.get(relative.split("/", 1)[0])
        if allowed is not None and CATEGORY[name] not in allowed:
            continue
        if not _big_enough(png):
            continue
        yield Source(f"tuxpaint:{relative}", "tuxpaint", str(png), name, CATEGORY[name], f"tuxpaint:{relative}",
                     caption)


# -- Open Clip Art --------------------------------------------------------------------------------------------------

# folder prefix -> categories its names may have (None: any). Folders not listed (computer icons, shapes, flags,
# signs, logos, patterns, cards, maps, stick men, smileys) are left out.
_CLIPART_FOLDERS = {
    "animals": {"animal"}, "food": {"food", "plant"}, "plants": {"plant", "food"}, "people/clothing": {"clothing"},
    "people": {"person"}, "transportation/vehicles": {"vehicle"}, "transportation/boating": {"vehicle"},
    "buildings/furniture": {"object"}, "buildings": {"building"}, "geography/astronomy": {"sky"},
    "science/astronomy": {"sky"}, "containers": None, "electronics": None, "office": None, "tools": None,
    "education": None, "science": None, "recreation/games/chess": None, "recreation/music": None,
    "recreation/sports": None, "recreation/toys": None, "recreation/holiday": None, "recreation/party": None,
    "recreation/art": None, "unsorted": None,
}
_CLIPART_SKIP = ("people/stickmen", "people/smilies", "people/bodypart", "unsorted/duplicates")
# authors' names in Open Clip Art's file names that are also words of the label space
_AUTHORS = frozenset({"park", "gates", "crystal", "page", "olivier", "rose", "king", "bishop", "fox", "baker"})
# words that make the file a diagram, a symbol or a scene rather than one thing
_NOT_A_THING = frozenset({"icon", "symbol", "simbol", "silhouette", "silhouet", "logo", "sign", "contour",
                          "outline", "blueprint", "diagram", "map", "flag", "rules", "scene", "pattern", "menu",
                          "knot", "theory", "sketch", "tile", "border", "frame", "clipart", "collection", "and",
                          "e", "vs", "print", "hallway", "pitch", "atomic", "nodding", "dead", "gogh", "blocks",
                          "cross", "labels", "ride", "cichlid", "avvolgibile"})
# Italian and French words of many file names (most of them one prolific author's), read as the English name
_TRANSLATED = {
    "ape": "bee", "cavallo": "horse", "tigre": "tiger", "pinguino": "penguin", "orso": "bear", "rana": "frog",
    "acquila": "eagle",
    "aquila": "eagle", "casa": "house", "cigno": "swan", "cigni": "swan", "uccello": "bird", "farfalla": "butterfly",
    "farfalle": "butterfly", "dinosauro": "dinosaur", "dinosauri": "dinosaur", "lucertola": "lizard",
    "lucertolona": "lizard", "leone": "lion", "elefante": "elephant", "gabbiano": "seagull", "tacchino": "turkey",
    "coccinella": "ladybug", "coccinellona": "ladybug", "coccinelle": "ladybug", "lumaca": "snail",
    "zanzara": "mosquito", "gatto": "cat", "gattina": "cat", "gatti": "cat", "cane": "dog", "cani": "dog",
    "sedia": "chair", "libro": "book", "tazza": "cup", "gallo": "rooster", "gufo": "owl", "civetta": "owl",
    "pollo": "chicken", "cavalletta": "grasshopper", "formichina": "ant", "formicona": "ant", "libellula": "dragonfly",
    "libellule": "dragonfly", "ragno": "spider", "ragnetto": "spider", "abeille": "bee", "pecora": "sheep",
    "coniglio": "rabbit", "topo": "mouse", "canguro": "kangaroo", "albero": "tree", "arbre": "tree",
    "fiore": "flower", "pera": "pear", "prugna": "plum", "pesca": "peach", "mela": "apple", "trattore": "tractor",
    "bicicletta": "bicycle", "champignon": "mushroom", "pasteque": "watermelon", "pesce": "fish",
    "pescetto": "fish", "tartaruga": "turtle", "mucca": "cow", "vacca": "cow", "toro": "bull", "maiale": "pig",
    "lampada": "lamp", "chiave": "key", "sega": "saw", "forbici": "scissors", "bussola": "compass",
    "macchina": "car", "lucchetto": "padlock", "tavolo": "table", "poltrona": "chair", "valigie": "suitcase",
    "cestino": "trash can", "cesto": "basket", "ombrelloni": "umbrella", "pennello": "paintbrush",
    "calcolatrice": "calculator", "lettera": "envelope", "orologio": "clock", "violino": "violin",
    "chitarra": "guitar", "tromba": "trumpet", "pianoforte": "piano", "ragazza": "girl", "ragazzo": "boy",
    "bambina": "girl", "bambino": "boy", "donna": "woman", "uomo": "man", "signore": "man", "signorina": "woman",
    "principessa": "princess", "nonno": "man", "nonna": "woman", "panchina": "chair",
}
# black-and-white and colour versions of one drawing ("pie_apple", "pie_apple_bw"): one group for the split
_VERSION_WORDS = frozenset({"bw", "b", "w", "colour", "color", "alt"})


def openclipart(root: Path = OPENCLIPART) -> Iterator[Source]:
    """The drawings of the kept folders whose file name names one thing of the folder's kind; a file name found in
    several folders (the package repeats some drawings) once."""
    seen = set()
    for png in sorted(root.rglob("*.png")):
        relative = png.relative_to(root).as_posix()
        folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
        if folder.startswith(_CLIPART_SKIP):
            continue
        kept = [prefix for prefix in _CLIPART_FOLDERS if folder == prefix or folder.startswith(prefix + "/")]
        if not kept:
            continue
        tokens = words(png.stem)
        if _NOT_A_THING & set(tokens):
            continue
        name = name_in(" ".join(_TRANSLATED.get(w, w) for w in tokens), skip=_AUTHORS)
        allowed = _CLIPART_FOLDERS[max(kept, key=len)]
        if name is None or (allowed is not None and CATEGORY[name] not in allowed):
            continue
        if png.stem.lower() in seen or not _big_enough(png):
            continue
        seen.add(png.stem.lower())
        group = "_".join(w for w in re.split(r"[_\W]+", png.stem.lower()) if w and w not in _VERSION_WORDS)
        yield Source(f"openclipart:{relative}", "openclipart", str(png), name, CATEGORY[name],
                     f"openclipart:{group}", png.stem)


# -- Emoji ----------------------------------------------------------------------------------------------------------

# CLDR's emoji subgroups (properties/labels.txt) -> the category their names may have. Subgroups not listed
# (faces, hands, hearts, symbols, flags, fantasy people) are left out.
_EMOJI_SUBGROUPS = {
    "animal-mammal": {"animal"}, "animal-bird": {"animal"}, "animal-amphibian": {"animal"},
    "animal-reptile": {"animal"}, "animal-marine": {"animal"}, "animal-bug": {"animal"},
    "plant-flower": {"plant"}, "plant-other": {"plant", "food"}, "food-fruit": {"food"},
    "food-vegetable": {"food", "plant"}, "food-prepared": {"food"}, "food-asian": {"food"},
    "food-sweet": {"food"}, "food-marine": {"food", "animal"}, "drink": {"food"}, "dishware": {"object"},
    "person": {"person"}, "person-role": {"person"}, "person-activity": {"person"}, "person-sport": {"person"},
    "person-gesture": {"person"}, "family": {"person"}, "body": {"object"}, "clothing": {"clothing"},
    "transport-ground": {"vehicle"}, "transport-water": {"vehicle"}, "transport-air": {"vehicle"},
    "place-building": {"building"}, "place-religious": {"building"}, "place-other": {"building"},
    "sky & weather": {"sky"}, "event": {"object"}, "award-medal": {"object"}, "sport": {"object"},
    "game": {"object"}, "arts & crafts": {"object"}, "sound": {"object"}, "music": {"object"},
    "musical-instrument": {"object"}, "phone": {"object"}, "computer": {"object"}, "light & video": {"object"},
    "book-paper": {"object"}, "money": {"object"}, "mail": {"object"}, "writing": {"object"},
    "office": {"object"}, "lock": {"object"}, "tool": {"object"}, "science": {"object"}, "medical": {"object"},
    "household": {"object"}, "other-object": {"object"}, "time": {"object"},
}
# CLDR names whose first name of the label space is not what the emoji shows
_EMOJI_MISNAMED = frozenset({"police car light", "bus stop", "spider web", "moon cake", "moon viewing ceremony",
                             "fish cake with swirl", "carousel horse", "rice cracker", "rice ball",
                             "cricket game", "fishing pole", "railway track", "fuel pump", "paw prints",
                             "fried shrimp", "man in suit levitating", "horse racing", "tanabata tree",
                             "pine decoration", "japanese dolls", "sun behind cloud", "sun behind small cloud",
                             "sun behind large cloud", "sun behind rain cloud", "cloud with rain",
                             "cloud with snow", "cloud with lightning", "cloud with lightning and rain",
                             "new moon face", "first quarter moon face", "last quarter moon face",
                             "full moon face", "sun with face", "snowman without snow", "oncoming bus",
                             "oncoming police car", "oncoming taxi", "oncoming automobile", "mountain railway",
                             "suspension railway", "mountain cableway", "aerial tramway", "airplane departure",
                             "airplane arrival", "umbrella on ground", "umbrella with rain drops",
                             "closed umbrella", "person in bed", "person taking bath", "person in steamy room",
                             "man in steamy room", "woman in steamy room", "nest with eggs", "empty nest",
                             "fork and knife with plate", "pouring liquid", "cooking", "baby bottle",
                             "bottle with popping cork", "clinking beer mugs", "clinking glasses",
                             "carp streamer", "wind chime", "crystal ball", "magic wand", "mirror ball",
                             "mouse trap", "ring buoy", "beverage box", "heart hands", "man with veil",
                             "nail polish"})
# gestures and symbols, whichever subgroup CLDR puts them in
_EMOJI_SKIPPED_NAMES = frozenset({"hand", "heart"})
# words of CLDR names that mark a symbol, a smiley or a gesture rather than a thing
_EMOJI_NOT_A_THING = frozenset({"face", "hand", "hands", "heart", "circle", "square", "button", "sign", "symbol",
                                "mark", "arrow", "suit", "fingers", "finger", "fist", "thumbs", "index"})
_SKIN_TONE = re.compile(r"[\U0001F3FB-\U0001F3FF]")
_VARIATION = "\ufe0f"


def emoji(cldr: Path = CLDR) -> Iterator[Source]:
    """Emoji named by CLDR's English tts names, with their skin-tone variants (one group per base emoji)."""
    subgroups = emoji_subgroups(cldr / "properties" / "labels.txt")
    seen = set()
    for path in (cldr / "annotations" / "en.xml", cldr / "annotationsDerived" / "en.xml"):
        if not path.exists():
            continue
        for characters, tts in re.findall(r'<annotation cp="([^"]+)" type="tts">([^<]+)</annotation>',
                                          path.read_text(encoding="utf-8")):
            base_name = tts.split(":", 1)[0].strip().lower()
            key = characters.replace(_VARIATION, "")
            if (key in seen or not _is_emoji(key) or base_name in _EMOJI_MISNAMED
                    or ("," in tts and "skin tone" not in tts)):  # "kiss: woman, man, ...": a pair, no one name
                continue
            seen.add(key)
            base = _SKIN_TONE.sub("", key)
            subgroup = subgroups.get(base)
            allowed = _EMOJI_SUBGROUPS.get(subgroup) if subgroup is not None else None
            name = name_in(base_name)
            if subgroup is None and _EMOJI_NOT_A_THING & set(words(base_name)):
                continue  # newer than labels.txt: its name has to tell
            if name is None or name in _EMOJI_SKIPPED_NAMES:
                continue
            if subgroup is not None and (allowed is None or CATEGORY[name] not in allowed):
                continue
            codes = "-".join(f"{ord(c):x}" for c in key)
            group = "-".join(f"{ord(c):x}" for c in base)
            yield Source(f"emoji:{codes}", "emoji", characters, name, CATEGORY[name], f"emoji:{group}", tts)


def _is_emoji(characters: str) -> bool:
    # en.xml also names punctuation and maths signs ("does not force"): emoji are in these blocks
    return any(0x1F000 <= ord(c) <= 0x1FAFF or 0x2300 <= ord(c) <= 0x27BF for c in characters)


def emoji_subgroups(labels: Path) -> dict[str, str]:
    """Emoji (without U+FE0F) -> CLDR subgroup ("animal-mammal", ...), from properties/labels.txt's UnicodeSets."""
    found: dict[str, str] = {}
    if not labels.exists():
        return found
    for line in labels.read_text(encoding="utf-8").splitlines():
        if not line.startswith("["):
            continue
        unicode_set, _, rest = line.partition("]")
        fields = [f.strip() for f in rest.split(";")]
        if len(fields) < 3:
            continue
        for item in _unicode_set(unicode_set[1:]):
            found.setdefault(item.replace(_VARIATION, ""), fields[2])
    return found


def _unicode_set(body: str) -> Iterator[str]:
    i = 0
    while i < len(body):
        if body[i] == "{":
            end = body.index("}", i)
            yield body[i + 1:end]
            i = end + 1
        elif i + 2 < len(body) and body[i + 1] == "-":
            for code in range(ord(body[i]), ord(body[i + 2]) + 1):
                yield chr(code)
            i += 3
        else:
            yield body[i]
            i += 1


# -- pixels ---------------------------------------------------------------------------------------------------------


def _big_enough(path: Path) -> bool:
    # the header alone: opening thousands of PNGs this way takes about a second. A few Open Clip Art PNGs are
    # posters of 100+ megapixels (Pillow warns of decompression bombs): not one thing, and slow to load.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return min(image.size) >= MIN_SIDE and image.width * image.height <= MAX_PIXELS
    except (OSError, Image.DecompressionBombError):
        return False


def is_cutout(source: Source) -> bool:
    """Whether the picture is a thing on transparency, as compositing needs: not a boxed picture or a photo with
    its background (almost no transparent pixels around the visible ones). Emoji always are."""
    if source.origin == "emoji":
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source.location) as file:
                file.thumbnail((128, 128))  # enough to see the transparency, and a few times faster
                alpha = np.asarray(file.convert("RGBA"))[..., 3]
    except (OSError, Image.DecompressionBombError):
        return False
    rows, columns = np.nonzero(alpha > 16)
    if len(rows) == 0:
        return False
    visible = alpha[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    return float((visible < 16).mean()) >= MIN_TRANSPARENT


def cutout(source: Source, cache: Path | None = None) -> Image.Image:
    """The source's visible pixels as RGBA, trimmed to them, at most MAX_SIDE a side; cached as a PNG in `cache`
    (keyed by the source's id) when given."""
    cached = cache / f"{hashlib.sha1(source.id.encode()).hexdigest()[:16]}.png" if cache is not None else None
    if cached is not None and cached.exists():
        with Image.open(cached) as image:
            return image.convert("RGBA")
    if source.origin == "emoji":
        image = _emoji_image(source.location)
    else:
        try:
            with Image.open(source.location) as file:
                image = file.convert("RGBA")
        except OSError as e:
            raise SourceError(f"{source.id}: cannot read {source.location}: {e}") from None
    box = image.getchannel("A").point(lambda a: 255 if a > 16 else 0).getbbox()
    if box is None:
        raise SourceError(f"{source.id}: the image has no visible pixels")
    image = image.crop(box)
    if max(image.size) > MAX_SIDE:
        scale = MAX_SIDE / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        image.save(cached)
    return image


@lru_cache(maxsize=1)
def _emoji_font() -> ImageFont.FreeTypeFont:
    if not EMOJI_FONT.exists():
        raise SourceError(f"{EMOJI_FONT} not found: apt-get install fonts-noto-color-emoji")
    return ImageFont.truetype(str(EMOJI_FONT), EMOJI_SIZE)


def _emoji_image(characters: str) -> Image.Image:
    font = _emoji_font()
    canvas = Image.new("RGBA", (EMOJI_SIZE * 3, EMOJI_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((EMOJI_SIZE // 2, EMOJI_SIZE // 2), characters, font=font, embedded_color=True)
    return canvas
