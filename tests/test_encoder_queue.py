"""The encoder queue: inputs from many threads encoded together, each as it is alone."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from PIL import Image

from modrwkv import RWKV7, encoders
from modrwkv.encoders.media import MediaError
from modrwkv.multimodal import ModRWKV
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.serving.encoding import EncoderQueue, EncoderQueueClosed

COLOURS = ("red", "green", "blue", "orange", "purple", "white")


@pytest.fixture(scope="module")
def model() -> ModRWKV:
    torch.manual_seed(3)
    llm = RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(n_layer=1, n_embd=64, head_size=32), seed=3))
    return ModRWKV.build(llm, [encoders.build("siglip2")])


@pytest.fixture
def queue(model: ModRWKV):
    served = EncoderQueue(model.encoders, model.adapters)
    yield served
    served.close()


def photo(colour: str, size: tuple[int, int] = (48, 36)) -> Image.Image:
    return Image.new("RGB", size, colour)


def test_images_from_several_threads_are_embedded_as_each_alone(model: ModRWKV, queue: EncoderQueue) -> None:
    images = [photo(c, (30 + 7 * i, 40)) for i, c in enumerate(COLOURS)]
    with ThreadPoolExecutor(len(images)) as visitors:
        served = list(visitors.map(lambda image: queue.embed("image", [image])[0], images))
    for image, embeds in zip(images, served):
        torch.testing.assert_close(embeds, model.embed("image", [image]), rtol=0, atol=0)


def test_inputs_that_wait_while_a_batch_encodes_form_the_next_batch(model: ModRWKV, queue: EncoderQueue,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, busy, sizes = model.encoders["image"], threading.Event(), []
    encode_each = encoder.encode_each

    def first_one_slow(items):
        sizes.append(len(items))
        if len(sizes) == 1:
            assert busy.wait(10)
        return encode_each(items)

    monkeypatch.setattr(encoder, "encode_each", first_one_slow)
    first = queue.submit("image", photo("red"))
    while not sizes:  # the worker took the first image and is encoding it
        threading.Event().wait(0.01)
    rest = [queue.submit("image", photo(c)) for c in COLOURS[1:4]]
    busy.set()
    assert [f.result(10).shape[0] for f in [first, *rest]] == [1, 1, 1, 1]
    assert sizes == [1, 3]


def test_an_unreadable_image_fails_alone_and_the_queue_keeps_serving(queue: EncoderQueue, tmp_path: Path) -> None:
    broken = tmp_path / "holiday.png"
    broken.write_text("<html>not an image</html>")
    good, bad = queue.submit("image", photo("blue")), queue.submit("image", broken)
    with pytest.raises(MediaError, match="holiday.png"):
        bad.result(10)
    assert good.result(10).shape[0] == 1
    assert queue.embed("image", [photo("green")])[0].shape[0] == 1


def test_a_modality_the_model_lacks_is_refused(queue: EncoderQueue) -> None:
    with pytest.raises(ValueError, match="no audio encoder attached; this model reads image"):
        queue.submit("audio", [0.0] * 16000)


def test_a_closed_queue_refuses_new_inputs(queue: EncoderQueue) -> None:
    queue.close()
    with pytest.raises(EncoderQueueClosed):
        queue.submit("image", photo("red"))


def test_a_queue_limited_to_one_thread_encodes_on_one_and_leaves_the_callers_count(
        model: ModRWKV, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, seen = model.encoders["image"], []
    encode_each = encoder.encode_each

    def counting(items):
        seen.append(torch.get_num_threads())
        return encode_each(items)

    monkeypatch.setattr(encoder, "encode_each", counting)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the process's setting, which the worker's limit must not follow
    try:
        queue = EncoderQueue(model.encoders, model.adapters, threads=1)
        queue.embed("image", [photo("red")])
        queue.close()
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_a_queue_limited_to_one_thread_leaves_other_threads_able_to_limit_blas(model: ModRWKV) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    queue = EncoderQueue(model.encoders, model.adapters, threads=1)
    queue.embed("image", [photo("red")])  # its preprocessing limits BLAS in the worker's thread
    with threadpool_limits(1, "blas"):
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    queue.close()
    assert blas and set(blas) == {1}
