"""The model bar follows the open tab: it lists that tab's models and shows the one the session uses there."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from app import model_bar, models
from app.model_bar import Choice
from tests.test_hub_sources import hub  # noqa: F401
from tests.test_multimodal import llm  # noqa: F401


def _keys(choices: list[tuple[str, str]]) -> set[str]:
    return {key for _, key in choices}


def test_each_tab_lists_only_the_models_of_its_modality() -> None:
    for modality in models.defaults():
        _, choice, _ = model_bar.shown_for(modality, None)
        listed = _keys(choice["choices"])
        assert listed == {e.key for e in models.catalog() if e.modality == modality}
        assert choice["label"] == f"{models.TAB_NAMES[modality]} model"


def test_a_tab_shows_the_sessions_model_and_dtype_for_it_not_another_tabs() -> None:
    selection = model_bar.default_selection()
    selection["audio"] = Choice("/data/my-asr-checkpoint", "/data/my-asr-checkpoint", "fp32")
    row, speech_choice, speech_dtype = model_bar.shown_for("audio", selection)
    _, image_choice, image_dtype = model_bar.shown_for("image", selection)
    assert row["visible"] is True
    assert (speech_choice["value"], speech_dtype["value"]) == ("/data/my-asr-checkpoint", "fp32")
    assert (image_choice["value"], image_dtype["value"]) == (models.defaults()["image"], models.default_dtype())


def _vision_release(cache, backbone, release: str, layout: str):  # noqa: ANN001, ANN202
    """A SigLIP2 release in the cache as upstream saves it (the encoder on the Hub), and the own model."""
    from modrwkv import ModRWKV, encoders
    from modrwkv.multimodal.adapter import AdapterConfig
    from modrwkv.multimodal.official import SIGLIP2_ID
    from tests.test_encoders import hub_layout_folder
    from tests.test_hub_sources import cached_repo
    from tests.test_multimodal import PAPER_VISION, official_tensors, picture
    from tests.test_official_releases import paper_era_checkpoint

    snapshot = cached_repo(cache, SIGLIP2_ID)
    hub_layout_folder("siglip2", snapshot)
    encoder = encoders.build("siglip2", snapshot)
    if layout == "a":
        own = ModRWKV.build(backbone, [encoder], PAPER_VISION)
        torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(cache, release) / "rwkv-0.pth")
    else:  # the HF safetensors of ModRWKV-0.4: later VisualAdapter (4C), image placeholders
        c = backbone.config.n_embd
        later = AdapterConfig(in_dim=32, out_dim=c, hidden_dim=4 * c, pre_norm=True)
        own = ModRWKV.build(backbone, [encoder], later, placement="placeholder")
        folder = cached_repo(cache, release)
        save_file({k: v.contiguous() for k, v in official_tensors(own, "c").items()}, str(folder / "model.safetensors"))
        (folder / "config.json").write_text('{"model_type": "rwkv7_wlm"}')
    return own, "image", picture()


def _speech_release(cache, backbone, release: str, layout: str):  # noqa: ANN001, ANN202
    from modrwkv import ModRWKV, encoders
    from modrwkv.multimodal.official import HUBERT_LARGE_ID
    from tests.test_hub_sources import cached_repo
    from tests.test_multimodal import chirp
    from tests.test_official_releases import paper_era_checkpoint, speech_adapter
    from tests.test_speech_encoders_upstream import hubert_ctc_folder

    snapshot = cached_repo(cache, HUBERT_LARGE_ID)
    hubert_ctc_folder(snapshot)
    own = ModRWKV.build(backbone, [encoders.build("hubert", snapshot)], speech_adapter(backbone))
    torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(cache, release) / "rwkv-0.pth")
    return own, "audio", chirp()


@pytest.mark.parametrize(("release", "layout", "write"), [
    ("WorldRWKV/RWKV7-0.4B-siglip2", "a", _vision_release),
    ("WorldRWKV/RWKV7-0.4B-wavlmLarge-ENASR-demo", "a", _speech_release),
    ("WorldRWKV/ModRWKV-0.4", "c", _vision_release),
])
def test_each_kind_of_release_loads_through_the_bar_with_the_logits_of_the_own_model(
    hub, llm, monkeypatch, release, layout, write  # noqa: F811
) -> None:
    own, modality, item = write(hub, llm, release, layout)
    monkeypatch.setattr(models, "_cache", type(models._cache)())  # this test's release only, not a cached one
    selection, status = model_bar.load_model(release, "fp32", None)
    assert selection[modality].source == release and release in status
    served = model_bar.model_for(selection, modality)
    prompt = [23, 24253, 59, 3319]
    if own.config.placement == "placeholder":
        embeds = own.embed(modality, [item])
        prompt = prompt + [own.config.placeholder_id] * embeds.shape[1] + [24, 65]
    want, _ = own(prompt, own.embed(modality, [item]))
    got, _ = served(prompt, served.embed(modality, [item]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_release_loaded_through_the_bar_serves_the_image_tab_with_upstreams_decoding(hub, llm, monkeypatch):  # noqa: F811
    from app import image_tab

    release = "WorldRWKV/RWKV7-0.4B-siglip2"
    _vision_release(hub, llm, release, "a")
    monkeypatch.setattr(models, "_cache", type(models._cache)())
    selection, _ = model_bar.load_model(release, "fp32", None)
    temperature, top_p, shown = image_tab.decoding_defaults(selection, models.defaults()["image"])
    assert (temperature["value"], shown) == (0.0, release)
    *_, (history, _) = image_tab.chat(None, "What shape is it?", [], 0, 0.3, 4, None, selection)
    assert history[-1]["role"] == "assistant"
