"""The app's model registry at start-up: each modality's default is loaded before any request asks for it."""
from __future__ import annotations

import logging

import pytest

from app import models


def test_start_up_loads_the_default_model_of_every_modality(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = []
    monkeypatch.setattr(models, "load", lambda source, dtype=None: loaded.append(source))
    models.load_defaults()
    by_key = {e.key: e.source for e in models.catalog()}
    assert sorted(loaded) == sorted({by_key[key] for key in models.defaults().values()})
    assert {e.modality for e in models.catalog() if e.source in loaded} == set(models.defaults())


def test_a_default_that_fails_to_load_at_start_up_is_logged_and_the_others_still_load(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = []

    def load(source: str, dtype: str | None = None) -> None:
        if not loaded:
            loaded.append(None)
            raise OSError("disk unreadable")
        loaded.append(source)

    monkeypatch.setattr(models, "load", load)
    with caplog.at_level(logging.WARNING, logger="app.models"):
        models.load_defaults()
    assert "not loaded at start-up: disk unreadable" in caplog.text
    assert len(loaded) == len(set(models.defaults().values()))
