"""The bundled offline vision model (assets/models/vision-easyvqa/, made by `python -m modrwkv.train.recipes.easy_vqa`)
answers easy-VQA test questions as well as its card says, through the app's inference path (`ImageChat`, greedy);
and the recipe's records read back as the trainer reads them."""
from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from modrwkv.train.data import load_llava
from modrwkv.train.recipes.easy_vqa import CAPTION_PROMPT, Question, caption, llava_record

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "models" / "vision-easyvqa"
IMAGES = 25  # the sample's questions are about the first 25 test images: each is encoded once (DINOv2, the slow part)
SAMPLE = 100
# eval.json's accuracy is over all 9,673 questions of the 1,000 test images; a 100-question sample of them has a
# standard error of sqrt(p (1 - p) / 100) ~ 0.022 at its p = 0.95, so a 0.12 margin (~5 standard errors) keeps a
# model that still scores as its card says from failing on the sample drawn, while a broken one (near the 0.43 of
# the per-type majority answers) fails.
MARGIN = 0.12

needs_easy_vqa = pytest.mark.skipif(
    importlib.util.find_spec("easy_vqa") is None,
    reason="the easy-VQA questions come from the easy-vqa package (pip install easy-vqa)",
)


@pytest.fixture
def one_thread():
    # On a small CPU shared with other jobs, torch's spinning OpenMP threads make this test several times slower than
    # one thread does; on an idle machine one thread costs little.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@needs_easy_vqa
def test_the_bundled_vision_model_answers_easy_vqa_test_questions_as_its_card_says(one_thread):
    from modrwkv import ModRWKV, RWKVTokenizer
    from modrwkv.train.recipes.easy_vqa import answer, easy_vqa_questions, score

    card = json.loads((BUNDLE / "eval.json").read_text())
    questions = [q for q in easy_vqa_questions("test") if int(q.image.stem) < IMAGES]
    sample = random.Random(0).sample(questions, SAMPLE)
    predictions = answer(ModRWKV.from_pretrained(BUNDLE), RWKVTokenizer(), sample)
    scores = score(sample, predictions)
    wrong = [(q.text, q.answer, p) for q, p in zip(sample, predictions) if p.strip(" .").lower() != q.answer]
    assert scores["accuracy"] >= card["accuracy"] - MARGIN, (scores, wrong[:10])


def test_a_recipe_record_reads_back_as_the_trainer_reads_it(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "shape.png")
    turns = [("What shape is in the image?", "circle"), (CAPTION_PROMPT, "A red circle.")]
    (tmp_path / "data.json").write_text(json.dumps([llava_record("shape.png", turns, ["circle"])]))
    [record] = load_llava(tmp_path / "data.json")
    assert record.image == (tmp_path / "shape.png").absolute()
    assert record.turns == tuple(turns)
    assert record.image_turn == 0 and record.answers == ("circle",)


@needs_easy_vqa
def test_captions_follow_from_an_images_questions_negations_included():
    image = Path("0.png")
    questions = [Question("is there not a red shape?", "no", image), Question("does the image contain a circle?",
                                                                              "yes", image)]
    assert caption(questions) == "A red circle."
    assert caption([Question("is no blue shape present?", "yes", image)]) is None
    assert caption([Question("what shape is present?", "triangle", image)]) == "A triangle."
