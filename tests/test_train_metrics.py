"""Evaluation metrics: the official VQA answer normalisation and accuracy, WER / CER, MSE / MAE."""
from __future__ import annotations

import numpy as np
import pytest

from modrwkv.train.metrics import cer, mae, mse, normalize_vqa_answer, vqa_accuracy, wer


@pytest.mark.parametrize(
    "answer, normalised",
    [
        ("Two", "2"),
        ("the dog", "dog"),
        ("A red car.", "red car"),
        ("none", "0"),
        ("dont know", "don't know"),
        ("isnt it", "isn't it"),
        ("yes!", "yes"),
        ("3.5", "3.5"),  # a decimal point is kept
        ("1,000", "1000"),  # a thousands comma goes
        ("black-and-white", "black and white"),  # punctuation without spaces around it becomes a space
        ("hot - dog", "hot dog"),  # with spaces around it, it is dropped
        ("  An\tapple\n", "apple"),
    ],
)
def test_vqa_normalisation_follows_the_official_script(answer, normalised):
    assert normalize_vqa_answer(answer) == normalised


def test_vqa_accuracy_with_ten_human_answers_is_min_one_of_matches_over_three():
    humans = ["2"] * 3 + ["3"] * 7
    # leave-one-out: dropping a "2" leaves 2 matches (2/3), dropping a "3" leaves 3 (1); (3 * 2/3 + 7) / 10
    assert vqa_accuracy("two", humans) == pytest.approx(0.9)
    assert vqa_accuracy("3", humans) == 1.0
    assert vqa_accuracy("four", humans) == 0.0
    assert vqa_accuracy("2", ["2"] + ["1"] * 9) == pytest.approx(0.3)  # 9 subsets of 1/3, one of 0


def test_vqa_accuracy_with_one_reference_is_normalised_exact_match():
    assert vqa_accuracy("The cat.", ["cat"]) == 1.0
    assert vqa_accuracy("cats", ["cat"]) == 0.0


def test_wer_and_cer_match_hand_counts():
    # one substitution in three words; casing and punctuation do not count
    assert wer(["The cat sat."], ["the cat sit"]) == pytest.approx(1 / 3)
    # corpus level: 1 error over 2 + 3 reference words
    assert wer(["hello world", "a b c"], ["hello word", "a b c"]) == pytest.approx(1 / 5)
    assert wer(["a b"], ["a b c d"]) == pytest.approx(1.0)  # two insertions over two words
    # "abc" -> "abd": one substitution over three characters
    assert cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    assert cer(["don't"], ["dont"]) == pytest.approx(1 / 5)  # the apostrophe is kept, so its deletion counts


def test_mse_and_mae():
    predicted, actual = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.0, 0.0], [3.0, 4.0]])
    assert mse(predicted, actual) == pytest.approx((4 + 1) / 4)
    assert mae(predicted, actual) == pytest.approx((2 + 1) / 4)
