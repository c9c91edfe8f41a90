"""Holding up in public: a visitor who leaves mid-answer or presses Stop frees the model for the next visitor, a
model that fails to load is named to its user while the rest serves, and a page older than the server is told to
reload.

Each test drives the app on 127.0.0.1 as visitors do: `gradio_client`, or raw HTTP where it stands for a browser.
The app serves one model request at a time on a CPU, so "the next visitor is served soon after Stop" means the work
stopped. Times are bounds with wide margins for a slow shared machine, never speeds.
"""
from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import time
import urllib.parse
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from gradio_client import Client, handle_file
from gradio_client.client import Job
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

from app import models
from modrwkv.bench.app_load_server import StartedApp, free_port, started_app
from tests.app_server import ROOT, served_app

EXAMPLES = ROOT / "assets" / "examples"
CIRCLE = EXAMPLES / "easy_vqa_circle.png"
VISION = ROOT / "assets" / "models" / "vision-easyvqa"
GREEDY = (0, 0.3, 8)  # temperature, top_p, max new tokens
# a pasted document of 1.6 million tokens: its prompt takes far longer to read than any bound below
LONG_PROMPT = "Summarise this. " + "The red circle is next to the blue square. " * 160_000
STARTED = 60.0  # seconds for a submitted request to reach the model
SERVED_AFTER_STOP = 20.0  # seconds from Stop (or a dropped connection) until the next visitor has an answer


@pytest.fixture(scope="module")
def app() -> Iterator[StartedApp]:
    with started_app() as served:
        yield served


@pytest.fixture(scope="module")
def url(app: StartedApp) -> str:
    return app.url


def ask(url: str, question: str = "What shape is in the image?") -> str:
    """A new visitor's question about the example image; their answer."""
    history = Client(url, verbose=False).predict(handle_file(str(CIRCLE)), question, [], *GREEDY, api_name="/chat")
    return history[-1]["content"][0]["text"]


def wait_until_running(job: Job) -> None:
    deadline = time.monotonic() + STARTED
    while job.status().code not in (Status.PROCESSING, Status.ITERATING):
        assert not job.done(), f"the request ended before it was stopped: {job.exception()}"
        assert time.monotonic() < deadline, f"the request did not start within {STARTED:.0f} s"
        time.sleep(0.2)


def cores_busy(pid: int, seconds: float = 2.0) -> float:
    """How many cores the process kept busy over the next `seconds`, on average."""
    process = psutil.Process(pid)
    before = sum(process.cpu_times()[:2])
    time.sleep(seconds)
    return (sum(process.cpu_times()[:2]) - before) / seconds


def assert_the_work_stops(app: StartedApp, stop: Callable[[], None]) -> None:
    """`stop` a long request while it runs: the next visitor is answered soon after, and the server goes quiet. Both
    are needed: Gradio can free a request's place in the queue while its thread still computes."""
    running = cores_busy(app.process.pid)
    stopped = time.monotonic()
    stop()
    assert ask(app.url).strip()
    assert time.monotonic() - stopped < SERVED_AFTER_STOP
    time.sleep(1.0)  # the math library's threads spin a little after each request
    # against what the request used, so that a machine busy with other work still tells the two apart (an idle
    # server keeps a small fraction of a core busy)
    assert cores_busy(app.process.pid, 3.0) < running / 3


# -- a visitor who stops or leaves ---------------------------------------------------------------------------------


def test_stop_while_a_long_prompt_is_read_ends_its_work_and_serves_the_next_visitor(app: StartedApp) -> None:
    job = Client(app.url, verbose=False).submit(None, LONG_PROMPT, [], *GREEDY, api_name="/chat")
    wait_until_running(job)
    assert_the_work_stops(app, job.cancel)  # what the Stop button does


def join_as_a_browser(url: str, api_name: str, params: list[Any]) -> socket.socket:
    """A browser's request: joined to the queue, its events read on the session's stream (a raw socket), returned
    once the server has started on it."""
    config = httpx.get(f"{url}config").json()
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == api_name)
    data = params + [None] * (len(dependency["inputs"]) - len(params))  # the session's states, held by the server
    session = f"browser-{time.monotonic_ns()}"
    joined = httpx.post(f"{url}gradio_api/queue/join", timeout=60,
                        json={"data": data, "fn_index": dependency["id"], "session_hash": session})
    joined.raise_for_status()
    address = urllib.parse.urlsplit(url)
    stream = socket.create_connection((address.hostname, address.port), timeout=STARTED)
    stream.sendall(f"GET /gradio_api/queue/data?session_hash={session} HTTP/1.1\r\nHost: {address.netloc}\r\n"
                   "Accept: text/event-stream\r\n\r\n".encode())
    received = b""
    while b"process_starts" not in received:
        chunk = stream.recv(65536)
        assert chunk, f"the stream ended before the request started: {received[-500:]!r}"
        received = received[-100:] + chunk
    return stream


def reset(stream: socket.socket) -> None:
    """The connection dropped as a closed tab or a lost network drops it: a reset, not a goodbye."""
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.close()


def test_a_visitor_whose_connection_drops_mid_answer_ends_its_work_and_frees_the_model(app: StartedApp) -> None:
    stream = join_as_a_browser(app.url, "chat", [None, LONG_PROMPT, [], *GREEDY])
    assert_the_work_stops(app, lambda: reset(stream))


def long_recording(folder: Path, minutes: float = 5.0) -> Path:
    """The example sentences spoken over and over with short pauses, as a meeting recording of `minutes`."""
    parts = []
    for name in ("speech_weather.wav", "speech_directions.wav"):
        with wave.open(str(EXAMPLES / name), "rb") as part:
            params = part.getparams()
            parts.append(part.readframes(part.getnframes()))
    pause = b"\0" * (params.sampwidth * params.framerate // 2)
    cycle = parts[0] + pause + parts[1] + pause
    repeats = int(minutes * 60 * params.framerate * params.sampwidth / len(cycle)) + 1
    path = folder / "meeting.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(cycle * repeats)
    return path


def test_stop_during_a_long_transcription_ends_its_work_and_serves_the_next_visitor(app: StartedApp,
                                                                                    tmp_path: Path) -> None:
    job = Client(app.url, verbose=False).submit(handle_file(str(long_recording(tmp_path))), api_name="/transcribe")
    wait_until_running(job)
    assert_the_work_stops(app, job.cancel)


# -- a model that fails to load ------------------------------------------------------------------------------------


def broken_copy(folder: Path, how: str) -> Path:
    """The bundled vision model as a visitor's damaged copy of it in `folder`."""
    folder.mkdir()
    config = json.loads((VISION / "config.json").read_text())
    (folder / "model.safetensors").symlink_to(VISION / "model.safetensors")
    if how == "weights cut short":  # a download or copy interrupted
        (folder / "model.safetensors").unlink()
        (folder / "model.safetensors").write_bytes((VISION / "model.safetensors").read_bytes()[:100_000])
    elif how == "config of another version":  # weights and config.json from different trainings
        config["modalities"]["image"]["adapter"]["ratio"] *= 2
    elif how == "config not JSON":
        (folder / "config.json").write_text("{'backbone': ...")
        return folder
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("how, says", [
    ("weights cut short", "could not read .*model.safetensors as safetensors"),
    ("config of another version", "image adapter's weights do not match"),
    ("config not JSON", "config.json is not valid JSON"),
])
def test_a_model_that_fails_to_load_is_named_to_its_user(url: str, tmp_path: Path, how: str, says: str) -> None:
    folder = broken_copy(tmp_path / "my-vision-model", how)
    named = re.escape(f"Problem while loading '{folder}' (the current models keep serving): ")
    with pytest.raises(AppError, match=named + ".*" + says):
        Client(url, verbose=False).predict(str(folder), "fp32", api_name="/load_model")


def test_after_a_model_failed_to_load_its_visitor_and_the_others_are_still_served(url: str, tmp_path: Path) -> None:
    visitor = Client(url, verbose=False)
    with pytest.raises(AppError):
        visitor.predict(str(broken_copy(tmp_path / "broken", "weights cut short")), "fp32", api_name="/load_model")
    history = visitor.predict(handle_file(str(CIRCLE)), "What shape is in the image?", [], *GREEDY, api_name="/chat")
    assert history[-1]["content"][0]["text"].strip()  # with the model it had
    text, *_ = Client(url, verbose=False).predict(handle_file(str(EXAMPLES / "speech_weather.wav")),
                                                  api_name="/transcribe")
    assert text.strip()
    status = visitor.predict(models.defaults()["image"], "fp32", api_name="/load_model")
    assert f"{models.defaults()['image']} (fp32)" in status  # and a good model still loads


@pytest.fixture
def damaged_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The bundled models with the image tab's default damaged on disk, as the app finds them when it starts."""
    bundled = tmp_path / "models"
    bundled.mkdir()
    for model in sorted(models.MODELS_DIR.iterdir()):
        if model == VISION:
            broken_copy(bundled / model.name, "weights cut short")
            shutil.copy(model / "README.md", bundled / model.name / "README.md")
        else:
            (bundled / model.name).symlink_to(model)
    monkeypatch.setattr(models, "MODELS_DIR", bundled)
    return VISION.name


def test_a_default_model_that_failed_to_load_at_start_is_named_and_the_other_tabs_serve(damaged_default: str) -> None:
    with served_app() as (url, _):  # the defaults load on a thread while the app starts: the image one fails
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match=f"Problem while loading the Image chat model '{damaged_default}': "
                                           "could not read .*model.safetensors as safetensors"):
            client.predict(handle_file(str(CIRCLE)), "What shape?", [], *GREEDY, api_name="/chat")
        _, table, _, _ = client.predict(handle_file(str(EXAMPLES / "monthly_sales.csv")), "", 6, "",
                                        api_name="/forecast")
        assert len(table["data"]) == 6


# -- a page older than the server ----------------------------------------------------------------------------------


def call(url: str, api_name: str, data: list[Any]) -> tuple[str, Any]:
    """A request as a page sends it (its files named by their server paths): ("complete" | "error", its data)."""
    started = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": data}, timeout=60)
    if started.status_code != 200:  # refused before it queued (the Speech tab checks its recording first)
        return "error", started.json()["detail"]
    event_id = started.json()["event_id"]
    with httpx.stream("GET", f"{url}gradio_api/call/{api_name}/{event_id}", timeout=120) as events:
        text = "".join(events.iter_text())
    kind, data_line = [line for line in text.strip().split("\n") if line][-2:]
    return kind.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))


def uploaded(url: str, path: Path) -> dict:
    """`path` uploaded as a page uploads it: the FileData the page then holds."""
    with open(path, "rb") as f:
        server_path = httpx.post(f"{url}gradio_api/upload", files={"files": f}, timeout=60).json()[0]
    return {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


@pytest.fixture(scope="module")
def restarted() -> Iterator[dict[str, Any]]:
    """What an old page and an old API client hold of a server that then restarted on the same port, from a fresh
    disk (as a Space restarts), with the restarted server's URL."""
    port = free_port()
    with started_app(port=port) as old:
        client = Client(old.url, verbose=False)  # built against the old server: its config, its session
        assert client.predict(None, "Hello", [], *GREEDY, api_name="/chat")[-1]["content"][0]["text"] is not None
        image, recording = uploaded(old.url, CIRCLE), uploaded(old.url, EXAMPLES / "speech_weather.wav")
        kind, (history, *_) = call(old.url, "chat", [image, "What shape is in the image?", [], *GREEDY])
        assert kind == "complete"
    with started_app(port=port) as new:
        yield {"url": new.url, "client": client, "history": history, "recording": recording}


RELOAD = (r"The app restarted since this page was opened .*: '{}', which this request refers to, is no longer on "
          r"the server\. Reload the page, then upload the file again\.")


def test_an_old_page_asking_about_an_image_the_restart_removed_is_told_to_reload(restarted: dict) -> None:
    kind, message = call(restarted["url"], "chat", [None, "What color is it?", restarted["history"], *GREEDY])
    assert kind == "error"
    assert re.search(RELOAD.format("easy_vqa_circle.png"), message["error"])


def test_an_old_page_transcribing_a_recording_the_restart_removed_is_told_to_reload(restarted: dict) -> None:
    kind, message = call(restarted["url"], "transcribe", [restarted["recording"]])
    assert kind == "error"
    assert re.search(RELOAD.format("speech_weather.wav"), message)


def test_an_api_client_of_the_old_server_is_served_after_the_restart(restarted: dict) -> None:
    history = restarted["client"].predict(handle_file(str(CIRCLE)), "What shape is in the image?", [], *GREEDY,
                                          api_name="/chat")
    assert history[-1]["content"][0]["text"].strip()
