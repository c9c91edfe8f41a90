"""The real-things vision data (modrwkv/train/recipes/vision_*.py): English names for the pictures Debian ships, a
split that never shows a held-out picture in training, questions whose answers agree with the drawn pixels, the same
files from the same seed, and rows the training data loader reads.

The source pictures come from Debian packages; a test that needs one skips, naming the package, where it is absent.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from modrwkv.train.config import DataConfig
from modrwkv.train.data import load_records
from modrwkv.train.recipes.vision_colour import COLOURS, dominant_colour, pixel_colours
from modrwkv.train.recipes.vision_labels import NAMES, counted, may_deny, name_in, plural
from modrwkv.train.recipes.vision_questions import questions
from modrwkv.train.recipes.vision_real import Composer, NoSourcesError, catalog, write_samples
from modrwkv.train.recipes.vision_scenes import GAP, SIZE, Planner, background_image, render
from modrwkv.train.recipes.vision_sources import PACKAGES, cutout, installed

ALL_PACKAGES = " ".join(p for ps in PACKAGES.values() for p in ps)
needs_emoji = pytest.mark.skipif(not installed("emoji"), reason="emoji pictures need the Debian packages "
                                 "fonts-noto-color-emoji and unicode-cldr-core (apt-get install them)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vision-real")


@pytest.fixture(scope="module")
def items(cache: Path):
    try:
        return catalog(cache=cache)
    except NoSourcesError:
        pytest.skip(f"no source pictures installed (apt-get install {ALL_PACKAGES})")


@pytest.fixture(scope="module")
def planner(items, cache: Path) -> Planner:
    return Planner(cache / "cutouts", [i.source for i in items if i.split == "train"])


def a_picture(items, name: str | None = None, coloured: bool = False):
    """A training picture (of `name`; with a dominant colour), preferring emoji: they are the same on every machine
    that has the packages."""
    for item in sorted(items, key=lambda i: (i.source.origin != "emoji", i.source.id)):
        if item.split == "train" and (name is None or item.name == name) and item.category != "person":
            if not coloured or dominant_colour(cutout(item.source)) is not None:
                return item.source
    pytest.skip(f"no training picture of {name or 'a coloured thing'} among the installed sources")


def changed_pixels(scene, cache: Path) -> np.ndarray:
    """Where the drawn scene differs from its background alone: the things' pixels, found without the masks."""
    drawn = np.asarray(render(scene, cache / "cutouts"), dtype=np.int16)
    empty = np.asarray(background_image(scene.background, cache / "cutouts").convert("RGB"), dtype=np.int16)
    return np.abs(drawn - empty).max(axis=2) > 24


# -- names ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, name", [
    ("dog_on_leash_gerald_g._01", "dog"), ("A white kitten.", "cat"), ("fire_engine_mimooh_01", "fire truck"),
    ("man farmer: medium skin tone", "man"), ("woman and man holding hands", "group of people"),
    ("Some blueberries.", "blueberries"), ("rhino_black", "rhinoceros"), ("baseball_cap_bw_ganson", "baseball cap"),
    ("architetto_francesco_ro_01", None), ("boating_rules3", None), ("does not force", None),
])
def test_file_names_and_captions_map_to_one_english_name(text, name):
    assert name_in(text) == name


def test_catalog_names_are_short_english_names_of_the_label_space(items):
    assert all(i.name in NAMES for i in items)
    assert all(re.fullmatch(r"[a-z]+(?:[ -][a-z]+){0,2}", i.name) for i in items)


@needs_emoji
def test_catalog_covers_people_and_animals(items):
    pictures = defaultdict(set)
    for item in items:
        pictures[item.name].add(item.source.group)
    for name in ("man", "woman", "child", "group of people", "cat", "dog", "bird", "horse", "fish"):
        assert pictures[name], name
    assert len(pictures["man"]) >= 10 and len(pictures["woman"]) >= 10 and len(pictures["dog"]) >= 2


def test_plurals_and_counts_read_as_english():
    assert [plural(n) for n in ("dog", "bus", "man", "butterfly", "fire truck", "sheep")] == \
        ["dogs", "buses", "men", "butterflies", "fire trucks", "sheep"]
    assert counted(3, "mouse") == "three mice" and counted(1, "dog") == "one dog"
    with pytest.raises(ValueError, match="1 to 10"):
        counted(11, "dog")


def test_no_is_never_answered_about_a_related_or_overlapping_thing():
    assert not may_deny("person", "man") and not may_deny("bird", "parrot") and not may_deny("lamb", "sheep")
    assert may_deny("car", "dog") and may_deny("dog", "car")


# -- split ----------------------------------------------------------------------------------------------------------


def test_no_picture_group_is_in_both_splits_and_every_held_out_name_is_trained(items):
    splits = defaultdict(set)
    for item in items:
        splits[item.source.group].add(item.split)
    assert all(len(s) == 1 for s in splits.values())
    trained = {i.name for i in items if i.split == "train"}
    assert {i.name for i in items if i.split == "eval"} <= trained
    assert any(i.split == "eval" for i in items)


def test_split_depends_on_the_pictures_alone_not_their_order(items):
    again = catalog([i.source for i in reversed(items)])
    assert {i.source.id: i.split for i in again} == {i.source.id: i.split for i in items}


def test_training_scenes_show_only_training_pictures_even_in_backgrounds(items, cache):
    composer = Composer(items, "train", cache / "cutouts", [i.source for i in items if i.split == "train"])
    split = {i.source.id: i.split for i in items}
    rng = random.Random(0)
    for _ in range(200):
        scene = composer.scene(rng)
        shown = [p.source for p in scene.placements] + [scene.background.picture] * (scene.background.picture
                                                                                     is not None)
        assert all(split[s.id] == "train" for s in shown)


# -- answers agree with the pixels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("copies", [1, 2, 3, 4])
def test_how_many_answer_is_the_number_of_separate_things_drawn(items, planner, cache, copies):
    source = a_picture(items, "dog") if any(i.name == "dog" for i in items) else a_picture(items)
    scene = planner.count(source, copies, random.Random(copies))
    things = changed_pixels(scene, cache)
    boxes = [p.box for p in scene.placements]
    inside = np.zeros_like(things)
    for left, top, right, bottom in boxes:
        assert things[top:bottom, left:right].sum() > 20  # each copy is visible
        inside[top:bottom, left:right] = True
    assert not (things & ~inside).any()  # nothing drawn outside the copies' boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:  # apart, never touching
            assert a[2] + GAP // 2 <= b[0] or b[2] + GAP // 2 <= a[0] or a[3] + GAP // 2 <= b[1] or \
                b[3] + GAP // 2 <= a[1]
    asked = dict(questions(scene, random.Random(0), sorted(NAMES)))
    assert asked[f"How many {plural(source.name)} are there?"] == ("One.", "Two.", "Three.", "Four.")[copies - 1]


@pytest.mark.parametrize("where", ["left", "right"])
def test_where_answer_is_the_half_the_thing_is_drawn_in(items, planner, cache, where):
    source = a_picture(items)
    scene = planner.single(source, random.Random(7), where)
    columns = np.nonzero(changed_pixels(scene, cache))[1]
    assert (columns < SIZE / 2).all() if where == "left" else (columns >= SIZE / 2).all()
    asked = dict(questions(scene, random.Random(0), sorted(NAMES)))
    assert asked[f"Where is the {source.name}?"] == f"On the {where}."


def test_pair_answers_name_what_is_drawn_on_each_side(items, planner, cache):
    left = a_picture(items)
    right = next(i.source for i in items if i.split == "train" and may_deny(i.name, left.name)
                 and i.category != "person")
    scene = planner.pair(left, right, random.Random(3))
    things = changed_pixels(scene, cache)
    assert things[:, :SIZE // 2].any() and things[:, SIZE // 2:].any()
    asked = dict(questions(scene, random.Random(0), sorted(NAMES)))
    assert asked["What is on the left?"].lower().endswith(f"{left.name}.")
    assert asked[f"Where is the {right.name}?"] == "On the right."
    assert asked["Describe the picture."].lower().endswith(f"{right.name} on the right.")


def test_colour_answer_is_the_colour_of_most_drawn_pixels(items, planner, cache):
    source = a_picture(items, coloured=True)
    scene = planner.single(source, random.Random(5), "middle")
    left, top, right, bottom = scene.placements[0].box
    drawn = np.asarray(render(scene, cache / "cutouts"))[top:bottom, left:right]
    things = changed_pixels(scene, cache)[top:bottom, left:right]
    counts = np.bincount(pixel_colours(drawn[things]), minlength=len(COLOURS))
    asked = dict(questions(scene, random.Random(0), sorted(NAMES)))
    assert asked[f"What colour is the {source.name}?"] == f"{COLOURS[int(counts.argmax())].capitalize()}."


def test_a_scene_refuses_impossible_layouts(items, planner):
    source = a_picture(items)
    with pytest.raises(ValueError, match="1 to 4 copies"):
        planner.count(source, 5, random.Random(0))
    with pytest.raises(ValueError, match="two different things"):
        planner.pair(source, source, random.Random(0))


# -- files ----------------------------------------------------------------------------------------------------------


def test_same_seed_writes_the_same_files_and_another_seed_others(items, tmp_path):
    first = write_samples(tmp_path / "a", 6, 3, seed=11, items=items)
    again = write_samples(tmp_path / "b", 6, 3, seed=11, items=items)
    other = write_samples(tmp_path / "c", 6, 3, seed=12, items=items)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
                   and "cutouts" not in p.parts)
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert Path(first["files"]["train"]).read_text() == Path(again["files"]["train"]).read_text()
    assert Path(first["files"]["train"]).read_text() != Path(other["files"]["train"]).read_text()


def test_rows_load_through_the_training_data_loader(items, tmp_path):
    written = write_samples(tmp_path, 5, 2, seed=0, items=items)
    train = load_records(DataConfig(format="llava", path=written["files"]["train"]))
    held_out = load_records(DataConfig(format="llava", path=written["files"]["eval"]))
    align = load_records(DataConfig(format="llava", path=written["files"]["align"]))
    assert len(train) == written["train_records"] and len(held_out) == written["eval_questions"]
    assert all(r.image.is_file() and r.image.parent.name == "train" for r in train + align)
    assert all(r.image.parent.name == "eval" and len(r.turns) == 1 for r in held_out)
    assert {r.turns[0][0] for r in align} == {"Describe the picture."}
    assert all(r.answers == (r.turns[0][1],) for r in held_out)  # scored against its one answer


def test_bad_arguments_are_refused_clearly(items, tmp_path):
    with pytest.raises(ValueError, match="n_train >= 1"):
        write_samples(tmp_path, 0, 1, items=items)
    with pytest.raises(NoSourcesError, match="apt-get install"):
        catalog([])
