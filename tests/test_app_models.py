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


def test_each_loaded_model_has_one_scheduler_for_every_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODRWKV_BATCH", raising=False)
    model = models.load(models.DEMO_PREFIX + "image")
    served = models.scheduler(model)
    assert served is models.scheduler(model) and served.model is model.llm
    assert served.max_batch == models.BATCH["cpu"]


def test_each_loaded_model_has_one_encoder_queue_that_stops_when_the_model_is_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from modrwkv.serving.encoding import EncoderQueueClosed

    monkeypatch.delenv("MODRWKV_BATCH", raising=False)
    model = models._demo("image", "fp32")  # not in the app's cache: this test holds the only reference
    queue = models.encoder_queue(model)
    assert queue is models.encoder_queue(model) and queue.encoders == dict(model.encoders)
    del model
    gc.collect()
    with pytest.raises(EncoderQueueClosed):
        queue.submit("image", "any.png")


def test_batched_each_tab_lets_a_whole_batch_through_to_its_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODRWKV_BATCH", "8")
    chat, speech = models.conversation_queue("chat"), models.conversation_queue("speech")
    assert chat["concurrency_id"] != speech["concurrency_id"]
    assert chat["concurrency_limit"] == speech["concurrency_limit"] == 8


def test_a_batch_of_one_answers_each_request_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODRWKV_BATCH", "1")
    assert models.scheduler(models.load(models.DEMO_PREFIX + "image")) is None
    assert models.encoder_queue(models.load(models.DEMO_PREFIX + "image")) is None
    assert models.conversation_queue("chat") == models.conversation_queue("speech") == {
        "concurrency_id": "conversation", "concurrency_limit": models.model_concurrency()}


@pytest.mark.parametrize("value", ["0", "eight", "-2"])
def test_a_batch_size_that_is_no_whole_number_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MODRWKV_BATCH", value)
    with pytest.raises(ValueError, match=f"MODRWKV_BATCH must be a whole number >= 1, got '{value}'"):
        models.max_batch()


def test_batched_on_two_cores_each_serving_worker_computes_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODRWKV_WORKER_THREADS", raising=False)
    monkeypatch.setattr(models.torch, "get_num_threads", lambda: 2)
    assert models.worker_threads() == 1


def test_on_eight_cores_each_serving_worker_gets_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODRWKV_WORKER_THREADS", raising=False)
    monkeypatch.setattr(models.torch, "get_num_threads", lambda: 8)
    assert models.worker_threads() == 2


def test_the_worker_threads_setting_overrides_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODRWKV_WORKER_THREADS", "2")
    assert models.worker_threads() == 2
    monkeypatch.setenv("MODRWKV_WORKER_THREADS", "many")
    with pytest.raises(ValueError, match="MODRWKV_WORKER_THREADS must be a whole number >= 1, got 'many'"):
        models.worker_threads()
