"""The training config: YAML into dataclasses, errors that name the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import modrwkv.train
from modrwkv.train import ConfigError, load_config, parse_config
from modrwkv.train.__main__ import main


def base() -> dict:
    return {
        "phase": "align",
        "output_dir": "runs/x",
        "model": {"backbone": {"n_layer": 2, "n_embd": 64}, "encoder": {"name": "siglip2"}},
        "data": {"format": "llava", "path": "data.json", "image_folder": "images"},
    }


def with_(raw: dict, dotted: str, value: object) -> dict:
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return raw


def test_a_minimal_config_parses_with_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_(base(), "train.lr", "1e-4")))  # PyYAML reads 1e-4 as a string
    config = load_config(path)
    assert config.model.backbone.n_embd == 64 and config.model.encoder.source is None
    assert config.train.lr == 1e-4 and config.train.batch_size == 1 and config.train.mixed_precision == "no"
    assert config.data.modality == "image" and config.eval is None


@pytest.mark.parametrize(
    "dotted, value, message",
    [
        ("train.lrate", 0.1, r"train\.lrate: unknown key"),
        ("model.backbone.layers", 2, r"model\.backbone\.layers: unknown key"),
        ("train.batch_size", "four", r"train\.batch_size: expected an integer, got str 'four'"),
        ("train.batch_size", True, r"train\.batch_size: expected an integer"),
        ("train.gradient_checkpointing", "yes", r"train\.gradient_checkpointing: expected true/false"),
        ("train.mixed_precision", "fp8", r"train\.mixed_precision: must be one of no, fp16, bf16"),
        ("train.trainable", "blocks.*", r"train\.trainable: expected a list"),
        ("data.context", 8, r"data\.context: only for format series"),
        ("model.adapter", {"kernel": "3"}, r"model\.adapter\.kernel: expected an integer"),
        ("model.adapter", {"in_dim": 3}, r"model\.adapter\.in_dim: set by the encoder"),
        ("phase", "pretrain", r"phase: must be one of align, instruct"),
        ("train.ctc_weight", -0.5, r"train\.ctc_weight: must be 0 or more, got -0\.5"),
        ("train.ctc_weight", 0.5, r"train\.ctc_weight: only for format audio \(transcripts\), this is llava"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(dotted, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(with_(base(), dotted, value))


def test_required_keys_and_conflicts_are_named():
    raw = base()
    del raw["data"]["path"]
    with pytest.raises(ConfigError, match=r"data\.path: required"):
        parse_config(raw)
    with pytest.raises(ConfigError, match=r"model\.backbone: init_from already fixes"):
        parse_config(with_(base(), "model.init_from", "runs/align"))
    with pytest.raises(ConfigError, match=r"train\.trainable: the align phase"):
        parse_config(with_(base(), "train.trainable", ["blocks.*"]))


def test_eval_inherits_the_data_keys_it_does_not_set():
    config = parse_config(with_(with_(base(), "eval", {"path": "val.json"}), "data.max_records", 5))
    assert config.eval.format == "llava" and config.eval.image_folder == "images" and config.eval.path == "val.json"
    assert config.eval.max_records is None and config.data.max_records == 5


def test_the_command_line_reports_a_config_error_and_exits_2(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(with_(base(), "train.epochs", 0)))
    assert main([str(path)]) == 2
    assert "train.epochs: must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["siglip2_align.yaml", "siglip2_instruct.yaml"])
def test_the_example_configs_parse(name):
    config = load_config(Path(modrwkv.train.__file__).parent / "configs" / name)
    assert config.data.format == "llava" and config.train.mixed_precision == "bf16"
