"""One user's path in a real browser (headless Chromium driven by Playwright): image chat, a forecast, a transcript,
with the model bar following the tabs.

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
from tests.app_server import served_app

ROOT = Path(__file__).resolve().parents[1]
BROWSER = ROOT / "tests" / "browser"
SHOTS = ROOT / "tests" / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def url() -> str:
    missing = [name for name, ok in (
        ("node", shutil.which("node")),
        ("chromium", Path(CHROMIUM).exists()),
        ("playwright-core (npm ci --prefix tests/browser)", (BROWSER / "node_modules" / "playwright-core").exists()),
    ) if not ok]
    if missing:
        pytest.skip(f"browser test needs: {', '.join(missing)}")
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
