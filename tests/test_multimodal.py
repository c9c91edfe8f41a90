"""ModRWKV: encoders + adapters joined with the text in front of RWKV-7, saved and loaded in every layout."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open
from safetensors.torch import save_file

from modrwkv import RWKV7, encoders
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.adapter import AdapterConfig
from modrwkv.multimodal.official import IMAGE_PAD_ID
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from tests.fla_layout import to_fla
from tests.test_encoders import hub_layout_folder

LLM = RWKV7Config.shape(n_layer=2, n_embd=64, head_size=32)
PROMPT = [23, 24253, 59, 3319, 4811, 4600, 21420, 63, 24, 65, 3319, 24252, 59]  # "\x16User: ...\x17Assistant:"-like


def picture() -> Image.Image:
    img = Image.new("RGB", (64, 48), "white")
    ImageDraw.Draw(img).ellipse((8, 8, 40, 40), fill="red")
    return img


def chirp(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)


@pytest.fixture(scope="module")
def llm() -> RWKV7:
    return RWKV7.from_state_dict(random_state_dict(LLM, seed=5))


def image_model(llm: RWKV7, placement: str = "prepend", adapter: AdapterConfig | None = None) -> ModRWKV:
    torch.manual_seed(0)
    return ModRWKV.build(llm, [encoders.build("siglip2")], adapter=adapter, placement=placement)


@pytest.mark.parametrize("kernel,stride", [(0, 0), (3, 2), (4, 3), (5, 4)])
def test_adapter_output_length_follows_the_conv_formula(llm, kernel, stride):
    enc = encoders.build("wavlm")
    model = ModRWKV.build(llm, [enc], adapter=AdapterConfig.paper(enc.output_dim, LLM.n_embd, kernel, stride))
    features = enc.encode([chirp(1.0)])
    embeds = model.embed("audio", [chirp(1.0)])
    L = features.shape[1]
    expected = L if kernel == 0 else (L - kernel) // stride + 1
    assert embeds.shape == (1, expected, LLM.n_embd)


def test_prepended_modality_embeddings_come_before_the_prompt(llm):
    model = image_model(llm)
    mod = model.embed("image", [picture()])
    joined = model.join(PROMPT, mod)
    n = mod.shape[1]
    assert torch.equal(joined[0, :n], mod[0])
    assert torch.equal(joined[0, n:], llm.emb(torch.tensor(PROMPT)))


def test_modality_embeddings_land_exactly_at_the_placeholders(llm):
    model = image_model(llm, placement="placeholder")
    mod = model.embed("image", [picture()])
    ids = PROMPT[:4] + [IMAGE_PAD_ID] * mod.shape[1] + PROMPT[4:]
    joined = model.join(ids, mod)
    slots = torch.tensor(ids) == IMAGE_PAD_ID
    assert torch.equal(joined[0, slots], mod[0])
    assert torch.equal(joined[0, ~slots], llm.emb(torch.tensor(PROMPT)))


def test_a_prompt_with_two_placeholder_blocks_but_one_image_is_refused(llm):
    model = image_model(llm, placement="placeholder")
    mod = model.embed("image", [picture()])
    ids = [IMAGE_PAD_ID] * mod.shape[1] + PROMPT + [IMAGE_PAD_ID] * mod.shape[1]
    with pytest.raises(ValueError, match=f"{2 * mod.shape[1]} placeholder tokens but .* {mod.shape[1]} embeddings"):
        model.join(ids, mod)


def test_feeding_the_modality_in_pieces_with_the_state_carried_gives_the_same_logits(llm):
    model = image_model(llm)
    embeds = model.join(PROMPT, model.embed("image", [picture()]))
    whole, _ = llm.forward_embeds(embeds)
    first, state = llm.forward_embeds(embeds[:, :5])
    second, _ = llm.forward_embeds(embeds[:, 5:], state)
    torch.testing.assert_close(torch.cat((first, second), dim=1), whole, rtol=1e-5, atol=1e-5)


def test_an_input_of_a_modality_without_an_encoder_is_refused(llm):
    with pytest.raises(ValueError, match="no audio encoder attached"):
        image_model(llm).embed("audio", [chirp()])


def test_save_and_load_reproduce_the_logits_bit_for_bit(tmp_path, llm):
    model = ModRWKV.build(llm, [encoders.build("siglip2"), encoders.build("whisper"), encoders.build("wavenet")])
    series = np.sin(np.arange(200) / 7.0).astype(np.float32)
    inputs = {"image": [picture()], "audio": [chirp()], "series": [series]}
    before = {k: model(PROMPT, model.embed(k, v))[0] for k, v in inputs.items()}
    loaded = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "mm"))
    assert sorted(loaded.encoders) == ["audio", "image", "series"]
    for k, v in inputs.items():
        assert torch.equal(loaded(PROMPT, loaded.embed(k, v))[0], before[k])


# ---------------------------------------------------------------------------------------------
# the three official checkpoint layouts, written from the same weights

PAPER_VISION = AdapterConfig(in_dim=32, out_dim=LLM.n_embd, hidden_dim=2 * LLM.n_embd, pre_norm=True)


def test_a_pretrained_encoder_is_saved_as_a_reference_not_a_copy(tmp_path, llm):
    original = encoders.build("siglip2")
    original.model.save_pretrained(tmp_path / "encoder")
    original.processor.save_pretrained(tmp_path / "encoder")
    model = ModRWKV.build(llm, [encoders.build("siglip2", str(tmp_path / "encoder"))])
    model.save_pretrained(tmp_path / "mm")
    with safe_open(str(tmp_path / "mm" / "model.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if k.startswith("encoders.")]
    assert model.config.modalities["image"].source == str(tmp_path / "encoder")
    loaded = ModRWKV.from_pretrained(tmp_path / "mm")
    torch.testing.assert_close(loaded.embed("image", [picture()]), model.embed("image", [picture()]), rtol=0, atol=0)


def test_a_referenced_encoder_is_reloaded_with_its_shortened_window(tmp_path, llm):
    hub_layout_folder("whisper", tmp_path / "encoder")  # a tiny Whisper as the Hub publishes it
    model = ModRWKV.build(llm, [encoders.build("whisper", str(tmp_path / "encoder"), window_seconds=1)])
    loaded = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "mm"))
    assert loaded.config.modalities["audio"].options == {"window_seconds": 1}
    assert loaded.encoders["audio"].max_seconds == 1.0
    torch.testing.assert_close(loaded.embed("audio", [chirp()]), model.embed("audio", [chirp()]), rtol=0, atol=0)


def test_a_dinov2_with_patch_colours_reloads_with_them_from_its_source_and_from_random_weights(tmp_path, llm):
    hub_layout_folder("dinov2", tmp_path / "encoder")
    for source in (str(tmp_path / "encoder"), None):
        model = ModRWKV.build(llm, [encoders.build("dinov2", source, patch_colours=True)])
        loaded = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "mm"))
        assert loaded.encoders["image"].patch_colours
        torch.testing.assert_close(
            loaded.embed("image", [picture()]), model.embed("image", [picture()]), rtol=0, atol=0
        )


def test_a_checkpoint_stored_in_bf16_loads_as_the_rounded_weights(tmp_path, llm):
    model = image_model(llm)
    loaded = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "mm", dtype=torch.bfloat16))
    weight = model.adapters["image"].state_dict()["mlp.0.weight"]
    assert torch.equal(loaded.adapters["image"].state_dict()["mlp.0.weight"], weight.to(torch.bfloat16).float())
    with safe_open(str(tmp_path / "mm" / "model.safetensors"), "pt") as f:
        assert f.get_tensor("llm.emb.weight").dtype == torch.bfloat16


def test_packaged_weights_are_named_by_function(tmp_path):
    with pytest.raises(ValueError, match="unknown packaged weights 'resnet'; available: whisper_tiny_en, dinov2_small"):
        encoders.build("dinov2", "packaged:resnet")


def official_tensors(model: ModRWKV, layout: str) -> dict[str, torch.Tensor]:
    llm = {k: v.clone() for k, v in model.llm.state_dict().items()}
    adapter = {k: v.clone() for k, v in model.adapters["image"].state_dict().items()}
    encoder = {k: v.clone() for k, v in model.encoders["image"].model.state_dict().items()}
    if layout == "a":  # f15e179: Lightning module; backbone at top level, adapter 'proj.*' in the encoder wrapper
        return (llm | {f"modality.world_encoder.adapter.{k.replace('mlp.', 'proj.')}": v for k, v in adapter.items()}
                | {f"modality.world_encoder.model.{k}": v for k, v in encoder.items()})
    if layout == "b":  # later .pth: llm.* / proj.* / encoder.*
        return ({f"llm.{k}": v for k, v in llm.items()} | {f"proj.{k}": v for k, v in adapter.items()}
                | {f"encoder.model.{k}": v for k, v in encoder.items()})
    fla = {k.replace("model.", "model.llm.", 1): v for k, v in to_fla(llm).items()}  # (c) HF safetensors
    return (fla | {f"model.proj.{k}": v for k, v in adapter.items()}
            | {f"model.encoder.model.{k}": v for k, v in encoder.items()})


@pytest.mark.parametrize("layout", ["a", "b", "c"])
def test_each_official_layout_gives_the_logits_of_the_projects_own(tmp_path, llm, layout):
    model = image_model(llm, adapter=PAPER_VISION)
    own = ModRWKV.from_pretrained(model.save_pretrained(tmp_path / "own"))
    tensors = official_tensors(model, layout)
    if layout == "c":
        path = tmp_path / "hf"
        path.mkdir()
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path / "model.safetensors"))
        (path / "config.json").write_text('{"model_type": "rwkv7_wlm"}')
    else:
        path = tmp_path / "rwkv-0.pth"
        torch.save(tensors, path)
    fresh_encoder = encoders.build("siglip2", **model.encoders["image"].architecture())  # weights come from the file
    official = ModRWKV.from_pretrained(path, encoder=fresh_encoder)
    image = [picture()]
    want, _ = own(PROMPT, own.embed("image", image))
    if layout == "c":  # placeholder releases: one pad token per embedding
        mod = official.embed("image", image)
        got, _ = official(PROMPT[:4] + [IMAGE_PAD_ID] * mod.shape[1] + PROMPT[4:], mod)
        want, _ = own.llm.forward_embeds(own.join(PROMPT[:4], None))  # compare the text prefix, then the image
        assert torch.equal(official.embed("image", image), own.embed("image", image))
        torch.testing.assert_close(got[:, :4], want, rtol=1e-5, atol=1e-5)
    else:
        got, _ = official(PROMPT, official.embed("image", image))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
