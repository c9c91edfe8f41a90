"""Writes the app's examples into assets/examples/, deterministically. Run: `python assets/make_examples.py`.

- monthly_sales.csv: SYNTHETIC monthly sales (not real data): ten years (120 months) of a linear trend, a yearly
  season and seeded noise, plus an `advertising` column and two missing sales months, so the Time-series
  forecast tab's example shows gap filling.
- easy_vqa_*.png: test-split images of the easy-VQA dataset (PyPI `easy-vqa` 1.0, MIT licence, by Victor Zhou),
  copied unchanged; needs `pip install --no-deps easy-vqa==1.0`.
- speech_*.wav: sentences spoken by `espeak-ng` (Debian package; its output is not copyrighted material of
  ours or theirs), needs `apt-get install espeak-ng`. Their words are all in the bundled speech model's 560-word
  vocabulary (it cannot write others), the sentences themselves are not among its training transcripts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import shutil
import subprocess

EXAMPLES = Path(__file__).resolve().parent / "examples"
OUT = EXAMPLES / "monthly_sales.csv"
# (file name, test image id): one circle and one rectangle, as the Image chat tab's examples ask about them
EASY_VQA_IMAGES = {"easy_vqa_circle.png": "circle", "easy_vqa_rectangle.png": "rectangle"}
SPEECH = {
    "speech_weather.wav": ("en-us", "It will be sunny and warm tomorrow morning."),
    "speech_directions.wav": ("en-gb", "Turn left at the old bridge and walk to the park."),
}


def monthly_sales(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    season = 25 * np.sin(2 * np.pi * t / 12) + 10 * np.cos(4 * np.pi * t / 12)
    sales = 200 + 1.5 * t + season + rng.normal(0, 6, rows)
    advertising = 40 + 0.2 * t + rng.normal(0, 3, rows)
    sales[[37, 83]] = np.nan
    return pd.DataFrame(
        {
            "month": pd.date_range("2015-01-01", periods=rows, freq="MS").strftime("%Y-%m-%d"),
            "sales": sales.round(1),
            "advertising": advertising.round(1),
        }
    )


def easy_vqa_images() -> None:
    """The first test image whose questions name each wanted shape as the answer to 'what shape is in the image?'."""
    from easy_vqa import get_test_image_paths, get_test_questions

    questions, answers, image_ids = get_test_questions()
    paths = get_test_image_paths()
    for name, shape in EASY_VQA_IMAGES.items():
        image_id = next(i for q, a, i in zip(questions, answers, image_ids) if q == "what shape is in the image?" and a == shape)
        shutil.copyfile(paths[image_id], EXAMPLES / name)
        print(f"wrote {EXAMPLES / name} (easy-VQA test image {image_id})")


def speech() -> None:
    for name, (voice, text) in SPEECH.items():
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(EXAMPLES / name), text], check=True)
        print(f"wrote {EXAMPLES / name}")


if __name__ == "__main__":
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    monthly_sales().to_csv(OUT, index=False)
    print(f"wrote {OUT}")
    easy_vqa_images()
    speech()
