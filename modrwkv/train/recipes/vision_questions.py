"""Visitor-style questions about a `Scene`, with short answers that are true by construction.

What is this? What animal / food / vehicle ... is it? Is there a ...? (yes, and no with a name that is not in the
picture) How many ...? What colour is the ...? (only where one colour dominates the thing, and never of a person)
Where is the ...? Describe the picture. Each answer is one short sentence: "A dog.", "Yes.", "Three.", "On the left.".
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from modrwkv.train.recipes.vision_colour import dominant_colour
from modrwkv.train.recipes.vision_labels import UNCOUNTED, a, counted, may_deny, plural, sentence
from modrwkv.train.recipes.vision_scenes import Scene
from modrwkv.train.recipes.vision_sources import Source, cutout

DESCRIBE = "Describe the picture."
_WHAT = ("What is this?", "What is in the picture?", "What do you see?", "What is it?")
_KIND = {"animal": "What animal is this?", "food": "What food is this?", "vehicle": "What vehicle is this?",
         "plant": "What plant is this?", "building": "What building is this?",
         "clothing": "What piece of clothing is this?", "person": "Who is in the picture?"}
_WHERE = {"left": "On the left.", "right": "On the right.", "middle": "In the middle."}
_NUMBERS = ("Zero.", "One.", "Two.", "Three.", "Four.")


def describe(scene: Scene) -> str:
    """One sentence from the scene's parts: "A dog on the left.", "Three dogs.", "A dog on the left and a car on
    the right."."""
    first = scene.placements[0].source.name
    if scene.layout == "pair":
        return sentence(f"{a(first)} on the left and {a(scene.placements[1].source.name)} on the right")
    if scene.layout == "count" and len(scene.placements) > 1:
        return sentence(counted(len(scene.placements), first))
    if scene.where in ("left", "right"):
        return sentence(f"{a(first)} on the {scene.where}")
    return sentence(a(first))


def questions(scene: Scene, rng: random.Random, names: Sequence[str],
              colour_of: Callable[[Source], str | None] | None = None) -> list[tuple[str, str]]:
    """(question, answer) pairs about the scene. `names` are the label space's names the "Is there a ...?" question
    may pick a missing thing from; `colour_of` names a source's colour or None (default: its cut-out's dominant
    colour)."""
    colour_of = colour_of or (lambda s: dominant_colour(cutout(s)))
    things = [p.source for p in scene.placements]
    present = {s.name for s in things}
    absent = sorted(n for n in set(names) if all(may_deny(n, p) for p in present))
    if not absent:
        raise ValueError("no name left for a thing that is not in the picture: pass more names")
    pairs: list[tuple[str, str]] = []
    if scene.layout == "pair":
        left, right = things
        pairs += [("What is on the left?", sentence(a(left.name))), ("What is on the right?", sentence(a(right.name)))]
        pairs += [(f"Where is {_the(s.name)}?", _WHERE[side]) for s, side in ((left, "left"), (right, "right"))]
    else:
        thing, copies = things[0], len(things)
        if copies == 1:
            pairs.append((rng.choice(_WHAT), sentence(a(thing.name))))
            if thing.category in _KIND:
                pairs.append((_KIND[thing.category], sentence(a(thing.name))))
        else:
            pairs.append(("What are these?", sentence(counted(copies, thing.name))))
        if scene.where is not None:
            pairs.append((f"Where is {_the(thing.name)}?", _WHERE[scene.where]))
    for name in sorted(present):
        if name not in UNCOUNTED:
            pairs.append((f"How many {plural(name)} are there?", _NUMBERS[sum(s.name == name for s in things)]))
    shown = rng.choice(sorted(present))
    pairs.append((f"Is there {a(shown)}?", "Yes."))
    pairs.append((f"Is there {a(rng.choice(absent))}?", "No."))
    for source in {s.name: s for s in things}.values():
        if source.category == "person":
            continue  # skin, hair and clothes: a person has no one colour
        colour = colour_of(source)
        if colour is not None:
            pairs.append((f"What colour is {_the(source.name)}?", sentence(colour)))
    pairs.append((DESCRIBE, describe(scene)))
    return pairs


def question_type(question: str) -> str:
    """"name", "kind", "yes/no", "count", "colour", "where" or "describe", from the question's words."""
    if question == DESCRIBE:
        return "describe"
    if question.startswith("Is there"):
        return "yes/no"
    if question.startswith("How many"):
        return "count"
    if question.startswith("What colour"):
        return "colour"
    if question.startswith("Where"):
        return "where"
    if question in _KIND.values():
        return "kind"
    return "name"


def cached_colours(cache: Path | None) -> Callable[[Source], str | None]:
    """A `colour_of` that reads each cut-out once (through the cut-out cache) and remembers its colour."""
    known: dict[str, str | None] = {}

    def colour_of(source: Source) -> str | None:
        if source.id not in known:
            known[source.id] = dominant_colour(cutout(source, cache))
        return known[source.id]

    return colour_of


def _the(name: str) -> str:
    return name if name in UNCOUNTED and name not in ("group of people", "family") else f"the {name}"
