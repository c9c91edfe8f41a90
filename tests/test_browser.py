"""One user's path in a real browser (headless Chromium driven by Playwright): image chat, a forecast, a transcript,
with the model bar following the tabs; and a page that outlived a restart of the server.

Needs `node`, Chromium (`apt-get install chromium`) and `npm ci --prefix tests/browser`; skipped without them.
Screenshots are saved under tests/artifacts/browser/.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app import models
from modrwkv.bench.app_load_server import free_port, started_app
from tests.app_server import served_app

ROOT = Path(__file__).resolve().parents[1]
BROWSER = ROOT / "tests" / "browser"
SHOTS = ROOT / "tests" / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def skip_without_a_browser() -> None:
    missing = [name for name, ok in (
        ("node", shutil.which("node")),
        ("chromium", Path(CHROMIUM).exists()),
        ("playwright-core (npm ci --prefix tests/browser)", (BROWSER / "node_modules" / "playwright-core").exists()),
    ) if not ok]
    if missing:
        pytest.skip(f"browser test needs: {', '.join(missing)}")


@pytest.fixture(scope="module")
def url() -> str:
    skip_without_a_browser()
    with served_app() as (address, _):
        yield address


def test_a_user_asks_about_an_image_then_forecasts_a_csv_then_transcribes_a_recording(url: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    examples = ROOT / "assets" / "examples"
    run = subprocess.run(
        ["node", str(BROWSER / "app_flow.js"), url, str(examples / "easy_vqa_circle.png"),
         str(examples / "monthly_sales.csv"), str(examples / "speech_weather.wav"), str(SHOTS)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    lengths = result["answer_lengths"]
    assert len(set(lengths)) > 2 and lengths[-1] == max(lengths)  # the answer grew while the user watched
    assert result["answer"].strip()
    assert "prompt tokens processed" in result["figures"] and "tok/s" in result["figures"]
    assert {"history", "forecast (median)", "10-90% band"} <= set(result["legend"])
    assert result["transcript"].strip() and "real-time factor" in result["speech_info"]
    assert all((SHOTS / shot).stat().st_size > 0 for shot in ("1-image-chat.png", "2-forecast.png", "3-speech.png"))
    # the model bar showed each tab's own model, and hid on the Efficiency tab
    defaults = models.defaults()
    shown = {tab: result["models"][tab].split(" (")[0] for tab in ("image", "forecast", "speech")}
    assert shown == {"image": defaults["image"], "forecast": defaults["series"], "speech": defaults["audio"]}
    assert result["models"]["efficiency"] == "hidden"


def test_a_page_older_than_the_server_is_told_to_reload_and_keeps_its_question() -> None:
    skip_without_a_browser()
    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with started_app(port=port) as old:
        page = subprocess.Popen(
            ["node", str(BROWSER / "old_page.js"), old.url, str(ROOT / "assets" / "examples" / "easy_vqa_circle.png"),
             str(SHOTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "CHROMIUM": CHROMIUM},
        )
        try:
            asked = page.stdout.readline().strip()  # the script gives up on its own after a few minutes
        except BaseException:
            page.kill()
            raise
        if asked != "asked":
            page.kill()
            pytest.fail(f"the first question was not answered: {asked} {page.communicate()[1]}")
    with started_app(port=port):  # the same address, a fresh disk: the page's image is gone
        out, errors = page.communicate("restarted\n", timeout=180)
    assert page.returncode == 0, errors
    result = json.loads(out.strip().splitlines()[-1])
    assert "The app restarted since this page was opened" in result["toast"]
    assert "'easy_vqa_circle.png'" in result["toast"] and "Reload the page" in result["toast"]
    assert result["question"] == "What color is it?"  # back in the textbox, not lost
    assert result["error_badge"] == 0 and result["first_question_shown"] == 1  # the conversation stays in view
