"""The default vision model's recipe (modrwkv/train/recipes/vision.py), without training: its data mixes both
sources and keeps held-out pictures out of training, its naming set is exactly the held-out pictures, its photo
references are there for every photo, its naming rule reads answers as the card says, and the card renders from
eval.json's figures."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from modrwkv.train.config import DataConfig
from modrwkv.train.data import load_records
from modrwkv.train.recipes import easy_vqa
from modrwkv.train.recipes.vision import (
    GREEDY,
    PHOTOS,
    Asked,
    load_photo,
    mix,
    model_card,
    names_it,
    naming_questions,
    naming_scores,
    real_scores,
)
from modrwkv.train.recipes.vision_labels import CATEGORY, NAMES
from modrwkv.train.recipes.vision_real import Item, write_samples
from modrwkv.train.recipes.vision_sources import Source

# name -> splits of its pictures: every held-out name has a training picture; "cat" has one held out
PICTURES = {"dog": ("train", "train", "eval"), "cat": ("train", "eval"), "car": ("train",), "apple": ("train",),
            "bus": ("train",), "tree": ("train",)}
COLOURS = [(200, 30, 30), (30, 160, 40), (30, 40, 200), (230, 200, 20), (120, 60, 20), (20, 20, 20)]


def fake_items(folder: Path) -> list[Item]:
    """Small cut-out PNGs (a filled disc on transparency), one picture group each, with the splits of PICTURES."""
    items = []
    for n, (name, splits) in enumerate(PICTURES.items()):
        for i, split in enumerate(splits):
            path = folder / f"{name}-{i}.png"
            image = Image.new("RGBA", (48, 40), (0, 0, 0, 0))
            ImageDraw.Draw(image).ellipse((4, 4, 44, 36), fill=COLOURS[(n + i) % len(COLOURS)] + (255,))
            image.save(path)
            source = Source(f"test:{name}-{i}", "tuxpaint", str(path), name, CATEGORY[name], f"{name}-{i}", name)
            items.append(Item(source, split))
    return items


@pytest.fixture
def mixed(tmp_path: Path):
    pytest.importorskip("easy_vqa", reason="the easy-VQA half of the data comes from the easy-vqa package")
    (tmp_path / "pictures").mkdir()
    items = fake_items(tmp_path / "pictures")
    real_dir, easy_dir = tmp_path / "real", tmp_path / "easy"
    real = {k: Path(v) for k, v in write_samples(real_dir, 12, 3, 0, items)["files"].items()}
    easy = easy_vqa.write_data(easy_dir, 3, 1, 1)
    files = mix(tmp_path, tmp_path, real_dir, real, easy_dir, easy, align_records=100)
    return tmp_path, items, files


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mixed_phases_hold_both_sources_and_no_held_out_image(mixed):
    root, _, files = mixed
    for phase in ("align", "instruct"):
        images = {r["image"] for r in records(files[phase])}
        assert any(i.startswith("real/images/train/") for i in images), phase
        assert any(i.startswith("easy/easy-vqa/train/") for i in images), phase
        assert all((root / i).is_file() for i in images)
        # only vision_real's training scenes and easy-VQA's train images and drawn scenes: nothing held out
        assert all(i.startswith(("real/images/train/", "easy/easy-vqa/train/", "easy/scenes/")) for i in images)


def test_mixed_files_read_back_as_the_trainer_reads_them(mixed):
    root, _, files = mixed
    loaded = load_records(DataConfig(format="llava", path=str(files["instruct"]), image_folder=str(root)))
    assert len(loaded) == len(records(files["instruct"]))


def test_naming_set_is_every_held_out_picture_of_a_trained_name(tmp_path: Path):
    items = fake_items(tmp_path)
    asked = naming_questions(items, tmp_path / "naming", tmp_path / "cutouts", None)
    held_out = sorted(i.name for i in items if i.split == "eval")
    assert sorted(q.name for q in asked) == held_out == ["cat", "dog"]
    assert all(q.image.is_file() and q.text == "What is this?" for q in asked)
    assert {q.answer for q in asked} == {"A cat.", "A dog."}


@pytest.mark.parametrize("answer, name, right", [
    ("A dog.", "dog", True), ("Two dogs.", "dog", True), ("A dog on the left and a cat on the right.", "dog", True),
    ("A cat on the left and a dog on the right.", "dog", False), ("A hot dog.", "dog", False),
    ("A kitten.", "cat", True), ("Three men.", "man", True), ("Two computer mice.", "computer mouse", True),
    ("A group of people.", "group of people", True), ("Glasses.", "glasses", True), ("", "dog", False),
])
def test_a_name_is_right_when_it_is_the_first_thing_the_answer_names(answer, name, right):
    assert names_it(answer, name) is right


@pytest.mark.parametrize("key", sorted(PHOTOS))
def test_every_photo_has_a_reference_and_loads(key):
    photo = PHOTOS[key]
    assert photo.reference and photo.licence
    assert set(photo.names) <= NAMES
    package = {"skimage": "skimage", "sklearn": "sklearn"}[photo.package]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed (requirements-test.txt)")
    pixels = load_photo(photo)
    assert pixels.dtype.name == "uint8" and min(pixels.shape[:2]) >= 100


def small_results() -> dict:
    """eval.json's shape, with a handful of answers."""
    image = Path("x.png")
    naming = [Asked("What is this?", "A cat.", image, "name", "cat"), Asked("What is this?", "A dog.", image, "name",
                                                                            "dog")]
    real = [Asked("What do you see?", "A pig.", image, "name", "pig"), Asked("Is there a pig?", "Yes.", image,
                                                                              "yes/no")]
    easy = [easy_vqa.Question("what shape is in the image?", "circle", image)]
    real_answers, easy_answers = ["A pig.", "No."], ["circle"]
    return {
        "model": "bundle", "command": "python -m modrwkv.train.recipes.vision",
        "bundle": {"size_mb": 120.0, "encoder_mb": 86.5, "encoder_dtype": "fp32", "trained_parameters": 19_000_000},
        "data": {"catalog": {"pictures": 10, "names": 5, "per_split": {"eval": 3}, "eval_names": 2,
                             "per_source": {"emoji": 10}},
                 "real": {"train_images": 20, "train_records": 80, "eval_images": 2, "eval_questions": 2},
                 "easy_vqa": {"train_images": 3, "instruct_records": 30, "align_records": 3, "test_images": 1},
                 "align_records": 23, "instruct_records": 110},
        "decoding": f"greedy, max {GREEDY.max_new_tokens} new tokens",
        "naming": naming_scores(naming, ["A cat.", "A bus."]),
        "real": real_scores(real, real_answers),
        "real_baseline": {"answers": {}, **real_scores(real, ["A dog.", "Yes."])},
        "easy_vqa": easy_vqa.score(easy, easy_answers),
        "easy_vqa_baseline": {"majority_per_type": easy_vqa.score(easy, ["rectangle"])},
        "photos": [{"photo": "chelsea", "source": "skimage: chelsea", "licence": "CC0", "question": "What is in this "
                    "image?", "reference": "A tabby cat's face.", "answer": "A tiger.", "named": "tiger",
                    "right": False}],
        "photos_missing": ["flower"],
        "items": {"real": [{"question": q.text, "type": q.type, "image": "x.png", "reference": q.answer, "answer": p}
                           for q, p in zip(real, real_answers)]},
        "training": {"align": {"steps": 10, "seconds": 60, "final_loss": 3.0},
                     "instruct": {"steps": 20, "seconds": 120, "final_loss": 1.0}},
        "seconds": {"data": 5, "features": 30, "align": 60, "instruct": 120, "evaluation": 20, "total": 240},
        "machine": "a CPU", "threads": 1, "load_average_15min": 1.0,
    }


def test_the_card_renders_its_figures_and_every_photo_answer():
    results = small_results()
    card = model_card(results)
    assert "| over the pictures | 50.0% |" in card  # cat right, dog named a bus
    assert "Names never right: dog." in card
    assert "| name | 1 | 100.0% | 100.0% | 0.0% |" in card
    assert "| yes/no | 1 | 0.0% |  | 100.0% |" in card
    assert "| this model | 100.0% | 100.0% |" in card
    assert "A tabby cat's face. | A tiger. | no |" in card
    assert "Not evaluated (package not installed): flower." in card
    assert "OFL 1.1" in card and "MIT licence" in card and "{" not in card.split("## Use")[0]
