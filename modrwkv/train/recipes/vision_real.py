"""`python -m modrwkv.train.recipes.vision_real`: pictures of real things with their English names, and visitor-style
questions about them, as LLaVA-style JSONL for `python -m modrwkv.train` (no training here).

Sources (`vision_sources`): Tux Paint's stamps, Open Clip Art and emoji, as Debian ships them, whichever are
installed. Each source picture gets one canonical name and a category (`vision_labels`), and a split: a whole
picture group (an emoji and its skin tones, a drawing and its black-and-white version) is held out for evaluation
by the hash of its id, so no held-out picture is ever in a training scene, not even blurred into a background. Only
names with a picture in training are held out, so naming accuracy on the evaluation set is measurable.

`write_samples` composes scenes (`vision_scenes`), asks their questions (`vision_questions`) and writes
train.jsonl (two turns a record), align.jsonl ("Describe the picture." only) and eval.jsonl (one question a record,
with its type), the PNGs under images/ and the cut-out cache under cutouts/; a rerun with the same seed and the
same installed packages writes the same files, and draws only the pictures it does not have yet.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modrwkv.train.data import IMAGE_TAG
from modrwkv.train.recipes.vision_labels import UNCOUNTED
from modrwkv.train.recipes.vision_questions import DESCRIBE, cached_colours, question_type, questions
from modrwkv.train.recipes.vision_scenes import Planner, Scene, render
from modrwkv.train.recipes.vision_sources import PACKAGES, Source, all_sources, installed, is_cutout

DATA_DIR = Path("data/vision-real")
COMMAND = "python -m modrwkv.train.recipes.vision_real"
EVAL_SHARE = 0.2  # of the picture groups of each name that has at least two, and always one of them
TURNS_PER_RECORD = 2  # as the easy-VQA recipe: a question, then a follow-up with the image in the RNN state
LAYOUTS = {"single": 0.5, "count": 0.25, "pair": 0.25}  # how often each kind of scene is composed
# people and animals are most of what visitors photograph: their names are drawn twice as often
FAVOURED = {"person": 2.0, "animal": 2.0}
PEOPLE_AND_ANIMALS = ("man", "woman", "boy", "girl", "child", "baby", "person", "group of people", "family", "cat",
                      "dog", "bird", "horse", "fish", "cow", "sheep", "pig", "chicken", "duck", "rabbit", "mouse",
                      "elephant", "lion", "tiger", "bear", "monkey", "penguin", "frog", "butterfly", "bee")


class NoSourcesError(RuntimeError):
    """None of the source packages is installed."""


@dataclass(frozen=True)
class Item:
    """A source picture of the catalog, with its split ("train" or "eval")."""

    source: Source
    split: str

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def category(self) -> str:
        return self.source.category


def catalog(sources: Sequence[Source] | None = None, cache: Path | None = None) -> list[Item]:
    """The installed source pictures (or `sources`) that are cut-outs, with their splits, sorted by id. Which
    pictures are cut-outs is remembered in `cache`/cutout-check.json when `cache` is given (the check reads every
    PNG: seconds)."""
    sources = [s for s in (all_sources() if sources is None else sources) if _checked(s, cache)]
    if cache is not None:
        _save_checks(cache)
    if not sources:
        packages = ", ".join(p for ps in PACKAGES.values() for p in ps)
        raise NoSourcesError(f"no source pictures: apt-get install {packages}")
    groups: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        groups[source.name].add(source.group)
    held_out = set()
    for name_groups in groups.values():
        ordered = sorted(name_groups, key=_hash_share)
        if len(ordered) < 2:
            continue  # a name with one picture is only ever trained on
        chosen = {g for g in ordered[1:] if _hash_share(g) < EVAL_SHARE}  # the lowest hash always trains
        # every name with two pictures or more is evaluated: naming is measured over as many names as there are
        held_out |= chosen or {ordered[-1]}
    return [Item(s, "eval" if s.group in held_out else "train") for s in sorted(sources, key=lambda s: s.id)]


_CHECKS: dict[str, bool] = {}  # "id size mtime" -> is a cut-out; loaded from and saved to the cache folder
_CHECKS_FILE = "cutout-check.json"


def _checked(source: Source, cache: Path | None) -> bool:
    if source.origin == "emoji":
        return True
    stat = Path(source.location).stat()
    key = f"{source.id} {stat.st_size} {stat.st_mtime_ns}"
    if key not in _CHECKS and cache is not None and (cache / _CHECKS_FILE).exists():
        _CHECKS.update(json.loads((cache / _CHECKS_FILE).read_text(encoding="utf-8")))
    if key not in _CHECKS:
        _CHECKS[key] = is_cutout(source)
    return _CHECKS[key]


def _save_checks(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / _CHECKS_FILE).write_text(json.dumps(_CHECKS, sort_keys=True), encoding="utf-8")


def _hash_share(group: str) -> float:
    """The group's place in [0, 1): fixed by its id alone, so the split never depends on a seed or on order."""
    return int(hashlib.sha1(f"vision-real:{group}".encode()).hexdigest()[:12], 16) / 16 ** 12


class Composer:
    """Draws scenes of one split's pictures: a name (people and animals favoured), then one of its pictures."""

    def __init__(self, items: Sequence[Item], split: str, cache: Path | None, backdrops: Sequence[Source]):
        self.by_name: dict[str, list[Source]] = defaultdict(list)
        for item in items:
            if item.split == split:
                self.by_name[item.name].append(item.source)
        if not self.by_name:
            raise ValueError(f"no {split} pictures in the catalog")
        self.names = sorted(self.by_name)
        self.weights = [FAVOURED.get(self.by_name[n][0].category, 1.0) for n in self.names]
        self.planner = Planner(cache, backdrops)

    def scene(self, rng: random.Random) -> Scene:
        layout = rng.choices(list(LAYOUTS), list(LAYOUTS.values()))[0]
        name = rng.choices(self.names, self.weights)[0]
        source = rng.choice(self.by_name[name])
        if layout == "count" and name not in UNCOUNTED:
            return self.planner.count(source, rng.randint(1, 4), rng)
        if layout == "pair" and len(self.names) > 1:
            other = rng.choice([n for n in self.names if n != name])
            pair = [source, rng.choice(self.by_name[other])]
            rng.shuffle(pair)
            return self.planner.pair(pair[0], pair[1], rng)
        return self.planner.single(source, rng)


def write_samples(out_dir: Path, n_train: int, n_eval: int, seed: int = 0,
                  items: Sequence[Item] | None = None) -> dict[str, Any]:
    """`n_train` training and `n_eval` evaluation scenes with their questions: train.jsonl, align.jsonl and
    eval.jsonl in `out_dir` (image paths relative to it), PNGs under images/. Returns the files and counts."""
    if n_train < 1 or n_eval < 0:
        raise ValueError(f"need n_train >= 1 and n_eval >= 0, got {n_train} and {n_eval}")
    items = catalog() if items is None else list(items)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / "cutouts"
    backdrops = [i.source for i in items if i.split == "train"]  # held-out pictures stay out of training scenes
    trained_names = sorted({i.name for i in items if i.split == "train"})
    colour_of = cached_colours(cache)
    rng = random.Random(seed)
    train, align, held_out = [], [], []
    composer = Composer(items, "train", cache, backdrops)
    for _ in range(n_train):
        scene = composer.scene(rng)
        image = _draw(scene, out_dir, "train", cache)
        turns = questions(scene, rng, trained_names, colour_of)
        align += [_record(image, [t]) for t in turns if t[0] == DESCRIBE]
        rng.shuffle(turns)
        train += [_record(image, turns[i:i + TURNS_PER_RECORD]) for i in range(0, len(turns), TURNS_PER_RECORD)]
    if n_eval:
        evaluated = [i for i in items if i.split == "eval" and i.name in set(trained_names)]
        composer = Composer(evaluated, "eval", cache, backdrops)
        for _ in range(n_eval):
            scene = composer.scene(rng)
            image = _draw(scene, out_dir, "eval", cache)
            held_out += [_record(image, [(q, answer)], answers=[answer], kind=question_type(q))
                         for q, answer in questions(scene, rng, trained_names, colour_of)]
    files = {}
    for key, records in (("train", train), ("align", align), ("eval", held_out)):
        files[key] = out_dir / f"{key}.jsonl"
        files[key].write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return {"files": {k: str(v) for k, v in files.items()}, "train_images": n_train, "eval_images": n_eval,
            "train_records": len(train), "align_records": len(align), "eval_questions": len(held_out),
            "eval_types": dict(sorted(Counter(r["type"] for r in held_out).items()))}


def _draw(scene: Scene, out_dir: Path, split: str, cache: Path) -> str:
    """The scene's PNG path relative to `out_dir`, drawn unless a file of the same scene is already there."""
    relative = f"images/{split}/{scene.key}.png"
    path = out_dir / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        render(scene, cache).save(buffer, format="PNG")
        path.write_bytes(buffer.getvalue())
    return relative


def _record(image: str, turns: Sequence[tuple[str, str]], answers: Sequence[str] | None = None,
            kind: str | None = None) -> dict[str, Any]:
    conversations = []
    for i, (question, answer) in enumerate(turns):
        conversations += [{"from": "human", "value": f"{IMAGE_TAG}\n{question}" if i == 0 else question},
                          {"from": "gpt", "value": answer}]
    return ({"image": image, "conversations": conversations} | ({"answers": list(answers)} if answers else {})
            | ({"type": kind} if kind else {}))


def report(items: Sequence[Item]) -> dict[str, Any]:
    """Counts of the catalog: pictures per source and split, names, and pictures of the people and animal names."""
    groups: dict[str, set[str]] = defaultdict(set)
    for item in items:
        groups[item.name].add(item.source.group)
    per_name = Counter(i.name for i in items)
    return {
        "pictures": len(items),
        "per_source": dict(sorted(Counter(i.source.origin for i in items).items())),
        "per_split": dict(sorted(Counter(i.split for i in items).items())),
        "per_category": dict(Counter(i.category for i in items).most_common()),
        "names": len(per_name),
        "names_with_2_pictures": sum(len(g) >= 2 for g in groups.values()),  # distinct pictures, not skin tones
        "names_with_3_pictures": sum(len(g) >= 3 for g in groups.values()),
        "eval_names": len({i.name for i in items if i.split == "eval"}),
        "people_and_animals": {n: {"images": per_name[n], "pictures": len(groups[n])} for n in PEOPLE_AND_ANIMALS},
        "installed": {origin: installed(origin) for origin in PACKAGES},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--train", type=int, default=10000, help="training pictures (default: %(default)s)")
    parser.add_argument("--eval", type=int, default=1000, help="evaluation pictures (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true", help="print the catalog's counts only; write nothing")
    args = parser.parse_args(argv)
    items = catalog(cache=args.out)
    if args.report:
        print(json.dumps(report(items), indent=2))
        return
    print(json.dumps(write_samples(args.out, args.train, args.eval, args.seed, items), indent=2))


if __name__ == "__main__":
    main()
