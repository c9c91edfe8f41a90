"""`app-load`'s view of the server: starting `python app.py` for a run, finding a running one's process, and
measuring that process from outside (memory, open files, the bytes its upload and output folders hold).

Nothing here imports Gradio: the bench is a library module (tests/test_layout.py), and the folders are found by the
rules Gradio and app/downloads.py apply to the server's own environment.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]  # the checkout holding app.py
DOWNLOADS = "modrwkv-downloads"  # app/downloads.py: ROOT = <tempdir>/modrwkv-downloads
START_SECONDS = 180.0  # loading the default models on a busy two-core machine
LOG_TAIL = 2000  # characters of the server's log shown when it fails to start


class ServerError(RuntimeError):
    """The app could not be started or reached: the message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, timeout: float = 5.0) -> str | None:
    """None when `url` answers an HTTP GET with a success code, else why not (in a few words)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return None if response.status < 400 else f"HTTP {response.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        return str(getattr(e, "reason", e))


@dataclass
class StartedApp:
    url: str
    process: subprocess.Popen
    temp_dir: Path  # the server's private temporary folder: its uploads and outputs are made in it


@contextmanager
def started_app(start_seconds: float = START_SECONDS, port: int | None = None, file_seconds: float | None = None,
                batch: int | None = None, models: Sequence[Path] = ()) -> Iterator[StartedApp]:
    """`python app.py --port P` on 127.0.0.1 (`port`, else a free one), once it answers; stopped (and its files
    removed) after: serving again on the same port is a restart as a host makes it, from a fresh disk.

    The server gets a temporary folder of its own (TMPDIR, GRADIO_TEMP_DIR), so the upload and output folders
    measured hold this run's files only: the machine's /tmp/gradio is shared with every other app and test run.
    `file_seconds`: the app's MODRWKV_FILE_SECONDS (how long it keeps visitors' files; default the app's own);
    `batch`: its MODRWKV_BATCH (conversations decoded together; 1: one request at a time); `models`: checkpoint
    folders it loads at start and serves as its tabs' defaults (`--model`)."""
    temp_dir = Path(tempfile.mkdtemp(prefix="modrwkv-app-load-"))
    port = port or free_port()
    env = os.environ | {
        "TMPDIR": str(temp_dir),
        "GRADIO_TEMP_DIR": str(temp_dir / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False",  # no traffic but the visitors'
        "HF_HUB_OFFLINE": "1",  # the default models are bundled: a run never downloads
        "PYTHONUNBUFFERED": "1",
    } | ({"MODRWKV_FILE_SECONDS": str(round(file_seconds))} if file_seconds is not None else {}) | (
        {"MODRWKV_BATCH": str(batch)} if batch is not None else {})
    log_path = temp_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port), *(f"--model={m}" for m in models)],
            cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, process, log_path, start_seconds)
        yield StartedApp(url, process, temp_dir)
    finally:
        _stop(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (problem := answers(url, timeout=2.0)) is not None:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-LOG_TAIL:]
            raise ServerError(f"`python app.py` exited with code {process.returncode} before serving:\n{tail}")
        if time.monotonic() > deadline:
            raise ServerError(f"`python app.py` did not answer at {url} within {seconds:.0f} s ({problem})")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    """The started server and any process it started, asked to stop, then killed if it does not."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)
    for child in children:
        try:
            child.kill()
        except psutil.Error:  # already gone with its parent
            pass


def local_pid(url: str) -> int | None:
    """The id of the process listening on `url`'s port on this machine, or None where the server is elsewhere or its
    process cannot be seen (another user's, without the rights to list it)."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    except psutil.Error:
        return None
    return None


def server_folders(pid: int) -> dict[str, Path]:
    """The server's upload folder (Gradio's rule: GRADIO_TEMP_DIR, else <tempdir>/gradio) and the app's download
    folder (<tempdir>/modrwkv-downloads), from the server process's own environment."""
    try:
        env = psutil.Process(pid).environ()
    except psutil.Error:  # not ours to read: assume it shares this process's environment
        env = dict(os.environ)
    temp = next((env[k] for k in ("TMPDIR", "TEMP", "TMP") if env.get(k)), tempfile.gettempdir())
    uploads = env.get("GRADIO_TEMP_DIR") or str(Path(temp) / "gradio")
    return {"uploads": Path(uploads), "downloads": Path(temp) / DOWNLOADS}


def folder_usage(folder: Path) -> dict[str, int]:
    """Bytes and number of the files under `folder`, and how many of them are empty (0s where it does not exist):
    an empty file is a placeholder nobody wrote to, which an age-based clean-up of known files never finds."""
    total = files = empty = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                size = os.stat(os.path.join(parent, name), follow_symlinks=False).st_size
            except OSError:  # deleted while walking (the app sweeps its old files)
                continue
            total, files, empty = total + size, files + 1, empty + (size == 0)
    return {"bytes": total, "files": files, "empty": empty}


def process_figures(pid: int) -> dict[str, int] | None:
    """Resident memory and open file descriptors of the process and all its children, or None once it is gone."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss = fds = 0
    for proc in tree:
        try:
            rss += proc.memory_info().rss
            fds += proc.num_fds()
        except psutil.Error:  # a child that ended between the listing and the reading
            continue
    return {"rss_bytes": rss, "open_files": fds}


class Sampler(threading.Thread):
    """Samples `process_figures` every `period` seconds until stopped, keeping the series and each figure's peak."""

    def __init__(self, pid: int, period: float = 1.0):
        super().__init__(daemon=True, name="app-load-sampler")
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, int, int]] = []  # (time.monotonic(), rss bytes, open files)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            figures = process_figures(self.pid)
            if figures is not None:
                self.samples.append((time.monotonic(), figures["rss_bytes"], figures["open_files"]))
            self._stop_event.wait(self.period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.period + 5)

    def peak(self) -> dict[str, int | None]:
        return {
            "rss_bytes": max((s[1] for s in self.samples), default=None),
            "open_files": max((s[2] for s in self.samples), default=None),
        }
