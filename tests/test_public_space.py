"""The app as a public Hugging Face Space runs it: listening where the platform says, refusing what a visitor must not
make it load, bounded in the shapes it measures and the files it keeps, and wrapping every model call for ZeroGPU."""
from __future__ import annotations

import importlib
import os
import runpy
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import httpx
import psutil
import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import app.models
from app import downloads, efficiency_tab, gpu, models
from modrwkv.bench.app_load_server import answers
from modrwkv.pipelines import efficiency
from tests.app_server import ROOT, free_port, served_app

CIRCLE = str(ROOT / "assets" / "examples" / "easy_vqa_circle.png")
SALES = str(ROOT / "assets" / "examples" / "monthly_sales.csv")
GREEDY = (0, 0.3, 10)


def listening_address(pid: int) -> str:
    """The address the process's listening TCP socket is bound to."""
    sockets = [c for c in psutil.Process(pid).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    assert len(sockets) == 1, sockets
    return sockets[0].laddr.ip


def wait_until_served(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while (problem := answers(url, timeout=2.0)) is not None:
        assert process.poll() is None, f"the app exited with {process.returncode}"
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not answer on {url} within {seconds} s ({problem})")
        time.sleep(0.5)


@contextmanager
def app_process(python: str, env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python app.py ARGS` on a free port with `env` added to this process's environment (GRADIO_SERVER_NAME
    removed unless given), and its URL on loopback once it answers; its stderr is checked for tracebacks at the end."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "GRADIO_SERVER_NAME"}, **env,
           "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([python, "app.py", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(url, process)
        yield process, url
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert b"Traceback" not in errors, errors.decode()[-3000:]


def test_the_app_listens_on_every_interface_when_gradio_server_name_says_so() -> None:
    with app_process(sys.executable, {"GRADIO_SERVER_NAME": "0.0.0.0"}) as (process, _):
        assert listening_address(process.pid) == "0.0.0.0"


def test_without_an_address_the_app_listens_on_loopback_only() -> None:
    with app_process(sys.executable, {}) as (process, _):
        assert listening_address(process.pid) == "127.0.0.1"


@pytest.fixture(scope="module")
def public_url() -> str:
    models.set_public(True)
    try:
        with served_app() as (address, _):
            yield address
    finally:
        models.set_public(False)


def load_error(client: Client, choice: str) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(choice, "fp32", api_name="/load_model")
    return str(caught.value)


def answer(client: Client) -> str:
    history = client.predict(handle_file(CIRCLE), "What shape is in the image?", [], *GREEDY, api_name="/chat")
    return "".join(block.get("text", "") for block in history[-1]["content"])


def test_a_public_server_refuses_paths_on_the_server_and_keeps_serving(public_url: str, tmp_path: Path) -> None:
    client = Client(public_url, verbose=False)
    folder = ROOT / "assets" / "models" / "vision-easyvqa"  # a real model folder, but named as a path
    message = load_error(client, str(tmp_path))
    assert "not paths on the server" in message and "current models keep serving" in message
    assert "not paths on the server" in load_error(client, str(folder.parent / ".." / "models" / folder.name))
    assert answer(client)


def test_a_public_server_refuses_a_hub_model_over_its_size_limit_before_downloading(
    public_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(app.models, "download_size", lambda repo, file="": asked.append((repo, file)) or 12 * 2**30)
    monkeypatch.setattr(app.models, "load", lambda *a: pytest.fail("a refused model must not be loaded"))
    client = Client(public_url, verbose=False)
    message = load_error(client, "someone/huge-modrwkv")
    assert asked == [("someone/huge-modrwkv", "")]
    assert "12.0 GB" in message and "up to 4.0 GB" in message
    monkeypatch.undo()
    assert answer(client)


def test_a_public_server_refuses_a_pasted_book_before_reading_it(public_url: str) -> None:
    client = Client(public_url, verbose=False)
    book = "The red circle is next to the blue square. " * 170_000  # 7.3 MB, 1.5 M tokens
    with pytest.raises(AppError, match="Message of 7,310,000 characters: this public server takes questions up to "
                                       "20,000 characters"):
        client.predict(handle_file(CIRCLE), book, [], *GREEDY, api_name="/chat")
    assert answer(client)


def test_a_public_server_loads_its_catalog_models(public_url: str) -> None:
    client = Client(public_url, verbose=False)
    status = client.predict("vision-easyvqa", "fp32", api_name="/load_model")
    assert "vision-easyvqa (fp32)" in status


def test_the_efficiency_tab_offers_only_the_shapes_that_fit_in_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(efficiency, "memory_available", lambda: 3 * 2**30)
    with gr.Blocks():
        efficiency_tab.build()
        shape = next(b for b in gr.context.Context.root_block.blocks.values()
                     if isinstance(b, gr.Dropdown) and b.label == "RWKV-7 shape")
    assert [value for _, value in shape.choices] == ["0.1b", "tiny"]
    with pytest.raises(gr.Error, match="0.4b .* more than this server has free"):
        next(efficiency_tab.measure_efficiency("0.4b", 16384, 256))


def test_download_files_are_removed_once_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "ROOT", tmp_path / "downloads")
    path = downloads.new_file("transcript.txt")
    path.write_text("hello")
    assert downloads.sweep(max_age=60) == 0 and path.exists()
    assert downloads.sweep(max_age=0) == 1 and not path.exists()


def test_an_idle_server_sweeps_its_old_download_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "ROOT", tmp_path / "downloads")
    path = downloads.new_file("transcript.txt")
    path.write_text("hello")
    stop = downloads.start_sweeping(every=0.05, max_age=0)
    try:
        deadline = time.monotonic() + 10
        while path.exists() and time.monotonic() < deadline:  # no further request comes
            time.sleep(0.05)
    finally:
        stop.set()
    assert not path.exists()


def test_an_image_question_leaves_no_stray_file_in_the_upload_folder() -> None:
    folder = Path(get_upload_folder())
    strays = lambda: {p for p in folder.glob("tmp*") if p.is_file() and p.stat().st_size == 0}  # noqa: E731
    with served_app() as (url, _):
        before = strays()
        answer(Client(url, verbose=False))
        assert strays() - before == set()


def test_uploads_and_returned_files_leave_gradio_s_cache(tmp_path: Path) -> None:
    upload = tmp_path / "my_sales.csv"
    upload.write_bytes(Path(SALES).read_bytes())
    with served_app(delete_cache=(2, 5)) as (url, demo):
        client = Client(url, verbose=False)
        client.predict(handle_file(str(upload)), "", 12, "", api_name="/forecast")
        cached = {f for files in demo.temp_file_sets for f in files if Path(f).name in (upload.name, "forecast_12.csv")}
        assert {Path(f).name for f in cached} == {upload.name, "forecast_12.csv"}  # the upload and the returned table
        deadline = time.monotonic() + 20
        while any(Path(f).exists() for f in cached) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [f for f in cached if Path(f).exists()]


@pytest.mark.parametrize(("setting", "retention"), [(None, (600, 3600)), ("120", (30, 120)), ("86400", (600, 86400))])
def test_visitors_files_are_kept_as_long_as_MODRWKV_FILE_SECONDS_says(monkeypatch, setting, retention) -> None:
    if setting is None:
        monkeypatch.delenv("MODRWKV_FILE_SECONDS", raising=False)
    else:
        monkeypatch.setenv("MODRWKV_FILE_SECONDS", setting)
    assert runpy.run_path(str(ROOT / "app.py"))["file_retention"]() == retention


def test_a_file_retention_that_is_not_a_number_of_seconds_stops_start_up(monkeypatch) -> None:
    monkeypatch.setenv("MODRWKV_FILE_SECONDS", "1h")
    with pytest.raises(ValueError, match="MODRWKV_FILE_SECONDS must be a whole number of seconds >= 10, found '1h'"):
        runpy.run_path(str(ROOT / "app.py"))["file_retention"]()


@pytest.fixture
def zero_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A stand-in `spaces` package, as on a ZeroGPU Space, with the tabs imported again under it; its GPU decorator
    records each function it wraps and the duration asked for."""
    (tmp_path / "spaces.py").write_text(
        "wrapped = {}\n"
        "def GPU(duration=60):\n"
        "    def wrap(fn):\n"
        "        wrapped[fn.__module__ + '.' + fn.__name__] = duration\n"
        "        fn.zero_gpu_duration = duration\n"
        "        return fn\n"
        "    return wrap\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    gpu.zero_gpu.cache_clear()
    tabs = [importlib.import_module(f"app.{name}") for name in ("image_tab", "speech_tab", "forecast_tab")]
    yield [importlib.reload(tab) for tab in tabs]
    monkeypatch.undo()
    sys.modules.pop("spaces", None)
    gpu.zero_gpu.cache_clear()
    for tab in tabs:
        importlib.reload(tab)


def test_on_zero_gpu_every_model_call_asks_for_a_gpu(zero_gpu) -> None:
    image_tab, speech_tab, forecast_tab = zero_gpu
    import spaces

    assert spaces.wrapped == {
        "app.image_tab.chat": gpu.CHAT_SECONDS,
        "app.speech_tab.transcribe": gpu.TRANSCRIBE_SECONDS,
        "app.forecast_tab.forecast": gpu.FORECAST_SECONDS,
    }


def test_on_zero_gpu_models_load_on_the_cpu_and_move_to_cuda_inside_a_call(
    zero_gpu, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[dict] = []
    monkeypatch.setattr(app.models.ModRWKV, "from_pretrained",
                        classmethod(lambda cls, src, **kw: loads.append(kw) or MovedModel()))
    monkeypatch.setattr(app.models.torch.cuda, "is_available", lambda: True)
    model = app.models.load("some/checkpoint", "bf16")
    assert loads == [{"dtype": "bf16", "device": "cpu", "pack_weights": False}]
    assert gpu.placed(model).device == "cuda"


class MovedModel:
    device = "cpu"

    def to(self, device: str) -> MovedModel:
        self.device = device
        return self


def test_each_tab_names_its_default_model_and_links_a_card_the_server_serves(public_url: str) -> None:
    for modality, name in (("image", "vision-easyvqa"), ("audio", "speech-whisper-tiny"), ("series", "series-wavenet")):
        line = models.introduction(modality)
        assert line.startswith(f"**Default model: {name}**")
        card = line.split("[Model card](")[1].split(")")[0]
        response = httpx.get(public_url.rstrip("/") + card, timeout=10)
        assert response.status_code == 200 and f"# {name}:" in response.text


def test_the_download_size_of_a_hub_model_is_read_from_its_file_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    import huggingface_hub

    from modrwkv import sources
    from modrwkv.sources import download_size

    monkeypatch.setattr(sources, "hub_unreachable", lambda: False)  # the Hub answers, with this file list
    files = {"model.safetensors": 3_000, "config.json": 20, "README.md": 5_000, "rwkv-0.pth": 9_000}
    info = SimpleNamespace(siblings=[SimpleNamespace(rfilename=n, size=s) for n, s in files.items()])
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, repo, files_metadata: info)
    assert download_size("owner/model") == 3_020  # what the snapshot fetches: safetensors and JSON
    assert download_size("owner/model", "rwkv-0.pth") == 9_000
