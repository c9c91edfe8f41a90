"""The model bar follows the open tab: it lists that tab's models and shows the one the session uses there."""
from __future__ import annotations

from app import model_bar, models
from app.model_bar import Choice


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
