"""The vision probe: what a frozen encoder's features alone name among held-out pictures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from modrwkv import encoders
from modrwkv.train.recipes.vision_probe import naming_pairs, probe

COLOURS = {"tomato": [(230, 30, 30), (200, 20, 40), (250, 60, 50), (215, 45, 25)],
           "frog": [(30, 200, 40), (50, 230, 60), (20, 170, 30), (40, 215, 55)],
           "whale": [(30, 40, 220), (50, 60, 250), (20, 30, 190), (40, 50, 235)]}


def picture(folder: Path, name: str, rgb: tuple[int, int, int]) -> str:
    path = folder / "images" / f"{name}-{'-'.join(map(str, rgb))}.png"
    path.parent.mkdir(exist_ok=True)
    Image.new("RGB", (64, 64), rgb).save(path)
    return str(path.relative_to(folder))


def write_data(folder: Path) -> None:
    """vision_real's layout: three shades of each thing to train on, the fourth held out."""
    train, held = [], []
    for name, shades in COLOURS.items():
        for rgb in shades[:3]:
            image = picture(folder, name, rgb)
            train.append({"image": image, "conversations": [
                {"from": "human", "value": "<image>\nWhere is it?"}, {"from": "gpt", "value": "In the middle."},
                {"from": "human", "value": "What is this?"}, {"from": "gpt", "value": f"A {name}."}]})
        image = picture(folder, name, shades[3])
        held.append({"image": image, "answers": [f"A {name}."], "type": "name", "conversations": [
            {"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": f"A {name}."}]})
        held.append({"image": image, "answers": [f"A {name}."], "type": "name", "conversations": [
            {"from": "human", "value": "<image>\nWhat is on the left?"}, {"from": "gpt", "value": f"A {name}."}]})
        held.append({"image": image, "answers": ["One."], "type": "count", "conversations": [
            {"from": "human", "value": f"<image>\nHow many {name}s are there?"}, {"from": "gpt", "value": "One."}]})
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (folder / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held))


def test_naming_questions_are_read_from_both_splits(tmp_path: Path) -> None:
    write_data(tmp_path)
    train, held = naming_pairs(tmp_path / "train.jsonl", False), naming_pairs(tmp_path / "eval.jsonl", True)
    assert len(train) == 9 and ("images/frog-30-200-40.png", "frog") in train
    assert [name for _, name in held] == ["tomato", "frog", "whale"]


def test_features_that_tell_the_pictures_apart_name_every_held_out_one(tmp_path: Path) -> None:
    write_data(tmp_path)
    torch.manual_seed(0)
    result = probe(encoders.build("dinov2").eval(), tmp_path)
    assert (result.train_pictures, result.names, result.eval_questions) == (9, 3, 3)
    assert result.top1 == 1.0 and result.majority_top1 == pytest.approx(1 / 3)


def test_data_without_naming_questions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text("")
    (tmp_path / "eval.jsonl").write_text("")
    with pytest.raises(ValueError, match="no naming questions"):
        probe(encoders.build("dinov2").eval(), tmp_path)
