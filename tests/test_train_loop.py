"""`modrwkv.train` end to end on tiny models: both phases lower the loss, frozen parts stay bit-identical, a resumed
run matches an uninterrupted one, and audio and time-series runs work through to their scores."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml
from PIL import Image, ImageDraw
from safetensors.torch import load_file

from modrwkv import RWKV7, ModRWKV, RWKVTokenizer, encoders
from modrwkv.encoders.wavenet import WaveNetEncoder
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.train import parse_config, train
from modrwkv.train.__main__ import main
from modrwkv.train.config import ConfigError, DataConfig
from modrwkv.train.data import load_records
from modrwkv.train.features import FeatureCache
from modrwkv.train.losses import TextLoss
from modrwkv.train.samples import make_samples
from modrwkv.train.trainer import batch_inputs

COLOURS = {"red": (230, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 230), "yellow": (240, 230, 20),
           "black": (0, 0, 0), "purple": (150, 20, 160)}


def tiny_llm() -> RWKV7:
    return RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(2, 64, head_size=32)), pack_weights=False)


@pytest.fixture(scope="module")
def llava(tmp_path_factory) -> Path:
    """Six images of coloured squares, each with a question and its colour as the answer."""
    folder = tmp_path_factory.mktemp("llava")
    records = []
    for name, rgb in COLOURS.items():
        image = Image.new("RGB", (32, 32), "white")
        ImageDraw.Draw(image).rectangle([4, 4, 27, 27], fill=rgb)
        image.save(folder / f"{name}.png")
        records.append({"image": f"{name}.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat colour is the square?"}, {"from": "gpt", "value": name}]})
    (folder / "data.json").write_text(json.dumps(records, indent=2))
    return folder / "data.json"


@pytest.fixture(scope="module")
def initial(tmp_path_factory) -> Path:
    """A random tiny ModRWKV (SigLIP2-shaped encoder, 2-layer RWKV-7 of width 64) in save_pretrained's layout."""
    torch.manual_seed(0)
    model = ModRWKV.build(tiny_llm(), [encoders.build("siglip2")])
    return model.save_pretrained(tmp_path_factory.mktemp("initial"))


def config(out: Path, phase: str, init_from: Path, data: Path, **train_options) -> dict:
    return {
        "phase": phase,
        "output_dir": str(out),
        "model": {"init_from": str(init_from)},
        "data": {"format": "llava", "path": str(data), "max_records": 4},
        "eval": {"max_new_tokens": 3, "max_records": 4},
        "train": {"batch_size": 4, "schedule": "constant", **train_options},
    }


def losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "loss_log.jsonl").read_text().splitlines()]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def changed(before: dict, after: dict, prefix: str) -> dict[str, bool]:
    return {k: not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)}


@pytest.fixture(scope="module")
def aligned(tmp_path_factory, initial, llava) -> Path:
    out = tmp_path_factory.mktemp("align")
    return train(parse_config(config(out, "align", initial, llava, max_steps=8, lr=1e-2)))


def test_align_lowers_the_loss_and_trains_the_adapter_only(aligned, initial):
    log = losses(aligned)
    assert len(log) == 8 and log[-1] < 0.85 * log[0], log
    before, after = weights(initial), weights(aligned)
    assert before.keys() == after.keys()
    assert not any(changed(before, after, "encoders.").values())
    assert not any(changed(before, after, "llm.").values())
    assert all(changed(before, after, "adapters.image.").values())
    scores = json.loads((aligned / "eval.json").read_text())
    assert scores["task"] == "vqa" and scores["records"] == 4 and 0 <= scores["vqa_accuracy"] <= 1


def test_instruct_trains_the_named_backbone_parts_and_answers_through_image_chat(tmp_path, aligned, llava):
    options = dict(max_steps=12, lr=3e-3, trainable=["blocks.1.*", "head.weight"])
    out = train(parse_config(config(tmp_path, "instruct", aligned, llava, **options)))
    log = losses(out)
    assert log[-1] < 0.2 * log[0], log
    before, after = weights(aligned), weights(out)
    assert not any(changed(before, after, "encoders.").values())
    for frozen in ("llm.emb.", "llm.blocks.0.", "llm.ln_out."):
        assert not any(changed(before, after, frozen).values()), frozen
    assert all(changed(before, after, "llm.blocks.1.att.receptance").values())
    assert all(changed(before, after, "llm.head.").values())
    assert all(changed(before, after, "adapters.image.").values())
    # the answers were learnt in the layout inference uses: ImageChat (greedy) now gives them
    assert json.loads((out / "eval.json").read_text())["vqa_accuracy"] == 1.0


def test_bf16_mixed_precision_with_gradient_accumulation_lowers_the_loss(tmp_path, initial, llava):
    options = dict(max_steps=5, batch_size=2, gradient_accumulation_steps=2, lr=1e-2, mixed_precision="bf16")
    out = train(parse_config(config(tmp_path, "align", initial, llava, **options)))
    log = losses(out)
    assert len(log) == 5 and np.isfinite(log).all() and log[-1] < 0.9 * log[0], log


def test_a_resumed_run_continues_exactly_like_an_uninterrupted_one(tmp_path, initial, llava):
    options = dict(max_steps=7, batch_size=2, lr=2e-3, schedule="cosine", warmup_steps=2, save_every=4,
                   trainable=["blocks.*"])
    raw = config(tmp_path / "whole", "instruct", initial, llava, **options)
    raw["data"]["max_records"] = 6  # 3 batches per epoch: the checkpoint at step 4 is mid-epoch
    whole = train(parse_config(raw))
    assert (whole / "checkpoints" / "step-0000004" / "progress.json").exists()

    resumed_dir = tmp_path / "resumed"
    path = tmp_path / "resumed.yaml"
    path.write_text(yaml.safe_dump({**raw, "output_dir": str(resumed_dir)}))
    assert main([str(path), "--resume", str(whole / "checkpoints" / "step-0000004")]) == 0
    log = [json.loads(line) for line in (resumed_dir / "loss_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [5, 6, 7]
    assert [e["loss"] for e in log] == pytest.approx(losses(whole)[4:], rel=1e-6, abs=0)
    final_whole, final_resumed = weights(whole), weights(resumed_dir)
    assert all(torch.allclose(final_whole[k], final_resumed[k], rtol=1e-5, atol=1e-7) for k in final_whole)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(initial, llava):
    model = ModRWKV.from_pretrained(initial, pack_weights=False)
    parsed = parse_config(config(Path("unused"), "instruct", initial, llava))
    samples = make_samples(load_records(parsed.data), RWKVTokenizer(), model)
    inputs = batch_inputs(samples, FeatureCache(model.encoders["image"]), model, "image", torch.device("cpu"))
    loss_fn = TextLoss(model, "image")
    results = []
    for recompute in (False, True):
        model.zero_grad()
        model.llm.gradient_checkpointing = recompute
        loss = loss_fn(**inputs)
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.llm.parameters()]))
    (plain, plain_grads), (recomputed, recomputed_grads) = results
    assert recomputed == plain
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain_grads, recomputed_grads))


def tones(folder: Path) -> dict:
    """The config of a 6-step audio align run: three half-second tones named "low", "middle", "high" (a CSV
    manifest), RWKV-7 read from a BlinkDL .pth in `folder` (RWKV7.from_pretrained), a random WavLM."""
    torch.save(random_state_dict(RWKV7Config.shape(2, 64, head_size=32), seed=3), folder / "rwkv.pth")
    t = np.arange(8_000) / 16_000
    rows = []
    for i, (word, hz) in enumerate((("low", 200), ("middle", 500), ("high", 1200))):
        sf.write(folder / f"{i}.wav", (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16_000)
        rows.append({"audio": f"{i}.wav", "text": word})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return {
        "phase": "align",
        "output_dir": str(folder / "out"),
        "model": {"backbone": {"checkpoint": str(folder / "rwkv.pth")}, "encoder": {"name": "wavlm"}},
        "data": {"format": "audio", "path": str(folder / "manifest.csv")},
        "eval": {"max_new_tokens": 3},
        "train": {"max_steps": 6, "batch_size": 3, "lr": 1e-2, "schedule": "constant"},
    }


def test_audio_align_from_a_pretrained_backbone_lowers_the_loss_and_reports_wer_and_cer(tmp_path):
    out = train(parse_config(tones(tmp_path)))
    log = losses(out)
    assert log[-1] < 0.85 * log[0], log
    backbone = torch.load(tmp_path / "rwkv.pth")
    trained_backbone = {k.removeprefix("llm."): v for k, v in weights(out).items() if k.startswith("llm.")}
    assert all(torch.equal(v, backbone[k]) for k, v in trained_backbone.items())
    scores = json.loads((out / "eval.json").read_text())
    assert scores["task"] == "asr" and scores["records"] == 3 and scores["wer"] >= 0 and scores["cer"] >= 0


def test_the_ctc_loss_is_added_logged_beside_the_answer_loss_and_learned(tmp_path):
    raw = tones(tmp_path)
    raw["train"]["ctc_weight"] = 0.5
    log = [json.loads(line) for line in (train(parse_config(raw)) / "loss_log.jsonl").read_text().splitlines()]
    for entry in log:
        assert entry["loss"] == pytest.approx(entry["answer_loss"] + 0.5 * entry["ctc_loss"], rel=1e-5)
    assert log[-1]["ctc_loss"] < 0.85 * log[0]["ctc_loss"], log


def series_run(tmp_path: Path, out: str, encoder: dict, **train_options) -> dict:
    """The config of a 10-step series align run (a noisy daily cycle, 16 windows) into tmp_path/out."""
    steps = np.arange(240)
    values = 10 + 3 * np.sin(2 * np.pi * steps / 24) + 0.1 * np.random.default_rng(0).standard_normal(len(steps))
    pd.DataFrame({"hour": steps, "load": values}).to_csv(tmp_path / "load.csv", index=False)
    return {
        "phase": "align",
        "output_dir": str(tmp_path / out),
        "model": {"backbone": {"n_layer": 2, "n_embd": 64, "head_size": 32}, "encoder": encoder},
        "data": {"format": "series", "path": str(tmp_path / "load.csv"), "columns": ["load"], "context": 48,
                 "horizon": 6, "stride": 6, "max_records": 16},
        "train": {"max_steps": 10, "batch_size": 8, "lr": 1e-2, "schedule": "constant", "seed": 0, **train_options},
    }


def test_series_align_trains_the_forecast_head_encoding_each_window_once(tmp_path, monkeypatch):
    """A WaveNet encoder from a source folder; gradient checkpointing on; features cached on disk."""
    torch.manual_seed(0)
    source = tmp_path / "wavenet"
    encoders.build("wavenet").save_pretrained(source)
    encoded = []
    real_encode = WaveNetEncoder.encode
    monkeypatch.setattr(WaveNetEncoder, "encode", lambda self, items: encoded.append(1) or real_encode(self, items))
    out = train(parse_config(series_run(tmp_path, "out", {"name": "wavenet", "source": str(source)},
                                        gradient_checkpointing=True, feature_cache="disk")))
    log = losses(out)
    assert log[-1] < 0.7 * log[0], log
    assert len(encoded) == 16  # 16 windows over 5 epochs: the frozen encoder ran once per window
    assert len(list((out / "feature_cache").rglob("*.safetensors"))) == 16
    scores = json.loads((out / "eval.json").read_text())
    assert scores["task"] == "forecast" and scores["split"] == "train"
    assert np.isfinite([scores["mse"], scores["mae"]]).all()
    trained = ModRWKV.from_pretrained(out)
    assert trained.forecast_head.config.horizon == 6
    assert trained.config.forecast.context == 48  # the window length it learned from
    # the frozen encoder is saved as a reference to its source, and reloads from it unchanged
    assert trained.config.modalities["series"].source == str(source)
    assert not any(k.startswith("encoders.") for k in weights(out))
    source_weights = load_file(source / "model.safetensors")
    assert all(torch.equal(trained.encoders["series"].state_dict()[k], v) for k, v in source_weights.items())


def test_train_encoder_trains_wavenet_with_the_adapter_and_saves_its_weights(tmp_path):
    torch.manual_seed(0)
    start = ModRWKV.build(tiny_llm(), [encoders.build("wavenet")], forecast_horizon=6)
    start.save_pretrained(tmp_path / "start")
    config = series_run(tmp_path, "out", {}, train_encoder=True)
    config["model"] = {"init_from": str(tmp_path / "start")}
    out = train(parse_config(config))
    log = losses(out)
    assert log[-1] < 0.7 * log[0], log
    before, after = weights(tmp_path / "start"), weights(out)
    encoder = changed(before, after, "encoders.series.")
    # stored in the checkpoint, and every tensor trained but the last block's residual output, which feeds no block
    assert [k for k, trained in encoder.items() if not trained] == [
        "encoders.series.blocks.3.res.bias", "encoders.series.blocks.3.res.weight"]
    assert not any(changed(before, after, "llm.").values())  # align: the backbone stays frozen
    assert not (out / "feature_cache").exists()  # a learning encoder's features are never cached


def test_train_encoder_refuses_an_encoder_loaded_from_a_source(tmp_path):
    encoders.build("wavenet").save_pretrained(tmp_path / "wavenet")
    config = series_run(tmp_path, "out", {"name": "wavenet", "source": str(tmp_path / "wavenet")}, train_encoder=True)
    with pytest.raises(ConfigError, match="train.train_encoder: the encoder is loaded from"):
        train(parse_config(config))


def test_runs_sharing_a_feature_cache_dir_encode_each_window_once(tmp_path, monkeypatch):
    encoders.build("wavenet").save_pretrained(tmp_path / "wavenet")
    encoded = []
    real_encode = WaveNetEncoder.encode
    monkeypatch.setattr(WaveNetEncoder, "encode", lambda self, items: encoded.append(1) or real_encode(self, items))
    encoder = {"name": "wavenet", "source": str(tmp_path / "wavenet")}
    shared = {"feature_cache": "disk", "feature_cache_dir": str(tmp_path / "shared_cache")}
    train(parse_config(series_run(tmp_path, "first", encoder, **shared)))
    assert len(encoded) == 16
    train(parse_config(series_run(tmp_path, "second", encoder, **shared)))
    assert len(encoded) == 16  # the second run read every window's features from the first run's files
    assert len(list((tmp_path / "shared_cache").rglob("*.safetensors"))) == 16


def test_the_feature_cache_encodes_each_input_once_and_disk_files_outlive_the_run(tmp_path, initial, llava):
    model = ModRWKV.from_pretrained(initial, pack_weights=False)
    samples = make_samples(load_records(DataConfig(format="llava", path=str(llava))), RWKVTokenizer(), model)
    encoder, calls = model.encoders["image"], []
    real_encode = encoder.encode
    encoder.encode = lambda items: calls.append(1) or real_encode(items)
    memory = FeatureCache(encoder)
    first = memory(samples)
    assert all(a is b for a, b in zip(first, memory(samples))) and len(calls) == 6
    FeatureCache(encoder, "disk", tmp_path)(samples)
    from_disk = FeatureCache(encoder, "disk", tmp_path)(samples)  # a later run, same encoder: read, not encoded
    assert len(calls) == 12 and all(torch.equal(a, b) for a, b in zip(first, from_disk))
    off = FeatureCache(encoder, "off")
    off(samples), off(samples)
    assert len(calls) == 24
