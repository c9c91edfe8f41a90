"""`python -m modrwkv.train.recipes.vision_probe`: how well a frozen image encoder's features alone name the held-out
pictures of `vision_real`'s data, before anything is trained on them.

A linear probe: logistic regression on each scene's mean-pooled features, fitted on the training scenes that show
one thing and ask what it is ("What is this?", "What animal is this?", "What do you see?", ...; named with "a" or
"an"), scored top-1 on the held-out questions
of that kind (pictures never in a training scene, of names that are). An adapter and a backbone fed the same
features learn from the same pictures, so a probe that names few of them says the encoder or the data is what limits
the vision recipe, not its training steps.
"""
from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from modrwkv import encoders
from modrwkv.encoders.base import Encoder

DATA = Path("data/vision-real")  # vision_real's default output
# the questions about a scene of one thing: "What is this?", "What animal is this?", "What do you see?", ...
NAMING_QUESTION = re.compile(r"^(<image>\n)?(What (\w+ )*is (this|it)|What do you see|What is in the \w+)\?$")
ANSWER_NAME = re.compile(r"^An? (.+)\.$")
BATCH = 16


@dataclass(frozen=True)
class ProbeResult:
    train_pictures: int
    names: int
    eval_questions: int
    top1: float
    majority_top1: float  # always answering the commonest training name

    def as_dict(self) -> dict[str, float | int]:
        return self.__dict__.copy()


def naming_pairs(path: Path, held_out: bool) -> list[tuple[str, str]]:
    """(image path relative to the file's folder, name) of the questions asking what the one thing in a scene is:
    in train.jsonl each picture once, in eval.jsonl every such question (its type "name" or "kind")."""
    pairs, seen = [], set()
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if held_out and record.get("type") not in ("name", "kind"):
            continue
        turns = record["conversations"]
        for question, answer in zip(turns[0::2], turns[1::2]):
            name = _name(answer["value"])
            if NAMING_QUESTION.match(question["value"]) and name and (held_out or record["image"] not in seen):
                pairs.append((record["image"], name))
                seen.add(record["image"])
    return pairs


def _name(answer: str) -> str | None:
    match = ANSWER_NAME.match(answer)
    return match.group(1) if match else None


@torch.inference_mode()
def pooled_features(encoder: Encoder, images: Sequence[Path]) -> np.ndarray:
    """[N, D]: each image's encoder features averaged over its positions."""
    rows = []
    for start in range(0, len(images), BATCH):
        batch = [Image.open(path).convert("RGB") for path in images[start: start + BATCH]]
        rows.append(encoder.encode(batch).float().mean(dim=1).numpy())
    return np.concatenate(rows)


def probe(encoder: Encoder, data: Path, max_train: int | None = None) -> ProbeResult:
    """Fit the probe on `data`/train.jsonl's naming scenes (the first `max_train` of them) and score it on
    `data`/eval.jsonl's naming questions."""
    from sklearn.linear_model import LogisticRegression  # the test requirements' scikit-learn: this is a study tool

    train = naming_pairs(data / "train.jsonl", held_out=False)[:max_train]
    held = naming_pairs(data / "eval.jsonl", held_out=True)
    if not train or not held:
        raise ValueError(f"{data} has no naming questions to probe with: run `python -m modrwkv.train.recipes."
                         "vision_real` first")
    x_train = pooled_features(encoder, [data / p for p, _ in train])
    x_held = pooled_features(encoder, [data / p for p, _ in held])
    y_train, y_held = np.array([n for _, n in train]), np.array([n for _, n in held])
    scale = x_train.std(axis=0) + 1e-6  # features of very different ranges (DINOv2's, patch colours) on one footing
    classifier = LogisticRegression(max_iter=1000).fit(x_train / scale, y_train)
    names, counts = np.unique(y_train, return_counts=True)
    return ProbeResult(len(train), len(names), len(held),
                       float(np.mean(classifier.predict(x_held / scale) == y_held)),
                       float(np.mean(y_held == names[counts.argmax()])))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modrwkv.train.recipes.vision_probe",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"vision_real's output folder (default {DATA})")
    parser.add_argument("--encoder", default="dinov2", help="an encoder name of modrwkv.encoders (default dinov2)")
    parser.add_argument("--source", default="packaged:dinov2_small",
                        help="its weights: a folder, a Hub id, or packaged:NAME (default packaged:dinov2_small)")
    parser.add_argument("--max-train", type=int, default=None, help="fit on the first N training pictures only")
    args = parser.parse_args(argv)
    encoder = encoders.build(args.encoder, args.source).eval()
    print(json.dumps(probe(encoder, args.data, args.max_train).as_dict() | {"encoder": args.encoder,
                                                                         "source": args.source}, indent=2))


if __name__ == "__main__":
    main()
