"""The model bar follows the open tab: it lists that tab's models and shows the one the session uses there."""
from __future__ import annotations

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


def test_a_release_loaded_through_the_bar_serves_its_tab_and_sets_upstreams_decoding(hub, llm, monkeypatch):  # noqa: F811
    import torch

    from app import image_tab
    from modrwkv import ModRWKV, encoders
    from modrwkv.multimodal.official import SIGLIP2_ID
    from tests.test_encoders import hub_layout_folder
    from tests.test_hub_sources import cached_repo
    from tests.test_multimodal import PAPER_VISION
    from tests.test_official_releases import paper_era_checkpoint

    release = "WorldRWKV/RWKV7-0.4B-siglip2"
    snapshot = cached_repo(hub, SIGLIP2_ID)
    hub_layout_folder("siglip2", snapshot)
    own = ModRWKV.build(llm, [encoders.build("siglip2", snapshot)], PAPER_VISION)
    torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(hub, release) / "rwkv-0.pth")
    monkeypatch.setattr(models, "_cache", type(models._cache)())  # this test's release only, not a cached one
    selection, status = model_bar.load_model(release, "fp32", None)
    assert selection["image"].source == release and release in status
    temperature, top_p, shown = image_tab.decoding_defaults(selection, models.defaults()["image"])
    assert (temperature["value"], shown) == (0.0, release)
    *_, (history, _) = image_tab.chat(None, "What shape is it?", [], 0, 0.3, 4, None, selection)
    assert history[-1]["role"] == "assistant"
