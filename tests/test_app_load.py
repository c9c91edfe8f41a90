"""`python -m modrwkv.bench app-load`: its arithmetic on fixed numbers, its argument errors, and one short run of the
app under load (`test_under_load_...`, the only test here that starts the app: deselect it with
`-k "not under_load"`).

The load test checks what the report says, never how fast: every endpoint was exercised, the counts add up, nothing
failed, and the server's memory and folders were measured.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import wave
from pathlib import Path

import psutil
import pytest
import torch

from modrwkv.bench.__main__ import main
from modrwkv.bench.app_load_models import bundled_for, with_backbone
from modrwkv.bench.app_load_report import error_lines
from modrwkv.bench.app_load_server import folder_usage, free_port
from modrwkv.bench.app_load_stats import QUEUE_FULL, Request, error_kind, percentile, summarize
from modrwkv.bench.app_load_visitors import (
    ENDPOINTS,
    EXAMPLES,
    LONG_REPEATS,
    RECORDINGS,
    answer_text,
    api_problems,
    generated_tokens,
    long_recording,
)
from modrwkv.multimodal import ModRWKV
from modrwkv.tokenizer import RWKVTokenizer

ROOT = Path(__file__).resolve().parents[1]
STREAMING = [e for e, (_, streams) in ENDPOINTS.items() if streams]
MOMENTS = ("start", "warm", "end", "peak", "settled")


# -- the arithmetic ------------------------------------------------------------------------------


def test_percentiles_interpolate_between_the_closest_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(range(1, 21), 95) == pytest.approx(19.05)
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0 and percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


class AppError(ValueError):  # named as gradio_client names its own
    pass


class QueueError(Exception):
    pass


def test_errors_are_grouped_by_their_class_and_first_words() -> None:
    assert error_kind(AppError("Problem while reading the image: /tmp/a/b.png is broken")) == (
        "AppError: Problem while reading the image"
    )
    assert error_kind(AppError("Empty message.")) == "AppError: Empty message"
    assert error_kind(TimeoutError()) == "TimeoutError"
    assert error_kind(QueueError("Queue is full! Please try again.")) == QUEUE_FULL
    assert error_kind(RuntimeError("The queue is full")) == QUEUE_FULL


def test_the_summary_counts_each_request_once_and_times_the_served_ones() -> None:
    chat = [Request("/chat", "image question", 0, float(i), float(i + 1), first_update_s=0.5 + i / 10,
                    first_text_s=0.6 + i / 10, tokens=10 + i) for i in range(3)]
    failed = [
        Request("/chat", "follow-up", 1, 4.0, 9.0, error="AppError: Empty message"),
        Request("/chat", "follow-up", 1, 5.0, 9.0, error="AppError: Empty message"),
        Request("/chat", "image question", 1, 6.0, 0.1, error=QUEUE_FULL),
    ]
    forecast = [Request("/forecast", "example CSV", 0, 0.0, 2.0), Request("/forecast", "example CSV", 1, 1.0, 4.0)]
    out = summarize(chat + failed + forecast, ["/chat", "/forecast", "/efficiency"], ["/chat", "/efficiency"])

    assert list(out) == ["/chat", "/forecast", "/efficiency"]
    assert out["/chat"] == {
        "requests": 6, "served": 3, "queue_full": 1, "errors": {"AppError: Empty message": 2},
        "latency_p50_s": 2.0, "latency_p95_s": pytest.approx(2.9), "first_update_p50_s": pytest.approx(0.6),
        "first_text_p50_s": pytest.approx(0.7), "first_text_p95_s": pytest.approx(0.79), "tokens": 33,
    }
    assert out["/forecast"]["latency_p50_s"] == 3.0 and out["/forecast"]["first_update_p50_s"] is None
    assert out["/efficiency"] == {
        "requests": 0, "served": 0, "queue_full": 0, "errors": {},
        "latency_p50_s": None, "latency_p95_s": None, "first_update_p50_s": None,
        "first_text_p50_s": None, "first_text_p95_s": None, "tokens": None,
    }


def test_every_kind_of_error_is_listed_once_with_its_count() -> None:
    result = {
        "endpoints": {"/chat": {"errors": {"AppError: Empty message": 2}}, "/forecast": {"errors": {}}},
        "warmup": {"/chat": {"error": None}, "/forecast": {"error": "TimeoutError: no answer within 300 s"}},
        "connect_errors": ["ConnectError: refused"],
    }
    assert error_lines(result) == [
        "/chat: 2 x AppError: Empty message",
        "/forecast (warm-up): TimeoutError: no answer within 300 s",
        "session: ConnectError: refused",
    ]


def test_folder_usage_counts_every_file_below_and_the_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.csv").write_bytes(b"123")
    (tmp_path / "a" / "y.txt").write_bytes(b"4567")
    (tmp_path / "tmp0123abcd").touch()
    assert folder_usage(tmp_path) == {"bytes": 7, "files": 3, "empty": 1}
    assert folder_usage(tmp_path / "missing") == {"bytes": 0, "files": 0, "empty": 0}


def test_the_visitors_check_the_apps_api_before_a_run() -> None:
    api = {"named_endpoints": {name: {"parameters": [{"parameter_name": p} for p in params]}
                               for name, (params, _) in ENDPOINTS.items()}}
    assert api_problems(api) == []
    del api["named_endpoints"]["/forecast"]
    api["named_endpoints"]["/chat"]["parameters"].pop()
    assert api_problems(api) == ["/chat takes no max_new_tokens", "no /forecast endpoint"]


def test_the_long_recording_is_the_examples_joined(tmp_path: Path) -> None:
    frames = 0
    for name in RECORDINGS:
        with wave.open(str(EXAMPLES / name), "rb") as part:
            frames += part.getnframes()
    with wave.open(str(long_recording(tmp_path)), "rb") as joined:
        assert joined.getnframes() == LONG_REPEATS * frames


def test_the_harness_imports_the_http_client_not_gradio() -> None:
    code = ("import sys, modrwkv.bench.app_load, modrwkv.bench.app_load_visitors; "
            "assert 'gradio_client' in sys.modules and 'gradio' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


# -- bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["--visitors", "0"], "argument --visitors: expected a positive integer, got '0'"),
    (["--minutes", "-1"], "argument --minutes: expected a positive number, got '-1'"),
    (["--think", "soon"], "argument --think: expected a non-negative number, got 'soon'"),
    (["--url", "127.0.0.1:7860"], "argument --url: expected the app's address"),
    (["--plot", "chart.png"], "--plot takes a .html file"),
    (["--file-seconds", "5"], "--file-seconds must be at least 10, got '5'"),
    (["--backbone", "7b"], "argument --backbone: unknown shape '7b'; choose from 0.1b, 0.4b"),
])
def test_bad_arguments_exit_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["app-load", *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_url_exits_with_a_message(capsys: pytest.CaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    assert main(["app-load", "--url", url]) == 2
    assert f"app-load: error: cannot reach --url {url}: " in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--file-seconds", "60"], ["--batch", "1"], ["--backbone", "0.1b"]])
def test_a_server_setting_is_refused_for_an_app_the_bench_does_not_start(capsys: pytest.CaptureFixture,
                                                                        option: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert main(["app-load", "--url", url, *option]) == 2
    assert "a running app (--url) keeps its own settings and models" in capsys.readouterr().err


def test_only_endpoints_the_app_has_can_be_chosen(capsys: pytest.CaptureFixture) -> None:
    assert main(["app-load", "--only", "chat,translate"]) == 2
    assert "--only takes endpoints of chat, transcribe, forecast, efficiency, got 'chat,translate'" in (
        capsys.readouterr().err)


def test_a_chats_and_a_transcripts_answer_and_tokens_are_read_from_their_outputs() -> None:
    history = [{"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "", "metadata": {"title": "12 prompt tokens processed · 7 generated"}},
               {"role": "assistant", "content": [{"type": "text", "text": "A circle."}]}]
    assert answer_text("/chat", history) == "A circle." and generated_tokens("/chat", history) == 7
    assert answer_text("/chat", history[:2] + [{"role": "assistant", "content": []}]) == ""
    transcript = ("It will be sunny.", "Transcribing 3.0 s of audio…", None, None)
    assert answer_text("/transcribe", transcript) == "It will be sunny."
    assert generated_tokens("/transcribe", transcript) == len(RWKVTokenizer().encode("It will be sunny."))


def test_a_bundle_with_a_published_size_backbone_keeps_its_encoder_and_prompt_format(tmp_path: Path) -> None:
    bundle = bundled_for("image")
    copy = ModRWKV.from_pretrained(with_backbone(bundle, "tiny", tmp_path))
    original = ModRWKV.from_pretrained(bundle)
    image = ROOT / "assets" / "examples" / "easy_vqa_circle.png"

    assert (copy.llm.config.n_layer, copy.llm.config.n_embd) == (2, 128)
    assert copy.embed("image", [image]).shape[-1] == 128
    torch.testing.assert_close(copy.encoders["image"].encode([image]), original.encoders["image"].encode([image]))
    assert (copy.config.placement, copy.config.generation, copy.config.turn_end) == (
        original.config.placement, original.config.generation, original.config.turn_end)


# -- the app under load --------------------------------------------------------------------------


def test_under_load_two_visitors_exercise_every_endpoint_and_the_report_adds_up(tmp_path: Path) -> None:
    plot = tmp_path / "load.html"
    done = subprocess.run(
        [sys.executable, "-m", "modrwkv.bench", "app-load", "--visitors", "2", "--minutes", "0.3", "--think", "0.5",
         "--settle", "2", "--json", "--plot", str(plot)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])

    assert out["started"] and out["visitors"] == 2 and out["connect_errors"] == []
    assert all(w["error"] is None and w["latency_s"] > 0 for w in out["warmup"].values())
    assert set(out["warmup"]) == set(out["endpoints"]) == set(ENDPOINTS)
    requests = out["samples"]["requests"]
    assert out["requests"] == len(requests) == sum(s["requests"] for s in out["endpoints"].values())
    for endpoint, s in out["endpoints"].items():
        assert s["requests"] >= 1, f"{endpoint} was never requested"
        assert s["served"] + sum(s["errors"].values()) + s["queue_full"] == s["requests"]
        assert s["errors"] == {} and s["queue_full"] == 0, f"{endpoint}: {s['errors']}"
        assert 0 < s["latency_p50_s"] <= s["latency_p95_s"]
        if endpoint in STREAMING:
            assert s["first_update_p50_s"] > 0
        else:
            assert s["first_update_p50_s"] is None
    for r in requests:
        assert r["error"] is None and r["latency_s"] > 0 and r["visitor"] in (0, 1)
        assert r["first_update_s"] is None or 0 < r["first_update_s"] <= r["latency_s"]
        assert r["first_text_s"] is None or r["first_update_s"] <= r["first_text_s"] <= r["latency_s"]
        assert bool(r["tokens"]) == (r["endpoint"] in ("/chat", "/transcribe"))
    assert any(r["first_text_s"] for r in requests if r["endpoint"] == "/chat")
    assert {r["variant"] for r in requests if r["endpoint"] == "/chat"} >= {"image question"}

    server = out["server"]
    for figure in ("rss_bytes", "open_files"):
        values = server[figure]
        assert set(values) == set(MOMENTS) and all(isinstance(values[m], int) and values[m] > 0 for m in MOMENTS)
        assert values["peak"] == max(values.values())
    folders = server["folders"]
    assert set(folders) == {"uploads", "downloads"}
    for folder in folders.values():
        for m in ("start", "warm", "end", "settled"):
            assert folder[m]["bytes"] >= 0 and folder[m]["files"] >= folder[m]["empty"] >= 0
        assert not Path(folder["path"]).exists()  # the started server's private temporary folder is gone
    assert folders["uploads"]["end"]["files"] > folders["uploads"]["start"]["files"]  # the visitors' uploads
    assert folders["downloads"]["end"]["files"] >= 1  # transcripts and forecast tables
    assert out["samples"]["server"] and all(rss > 0 for _, rss, _ in out["samples"]["server"])
    alive = psutil.pid_exists(server["pid"]) and "app.py" in " ".join(psutil.Process(server["pid"]).cmdline())
    assert not alive, "the started app still runs"

    assert "first update p50 s" in done.stdout and "RSS (with children)" in done.stdout
    html = plot.read_text()  # one trace per endpoint, named by it (plotly writes "/" as \u002f)
    assert all(re.search(rf'"name":"(/|\\u002f){endpoint[1:]}"', html) for endpoint in ENDPOINTS)
    assert "server RSS" in html
