"""The app as its users meet it: launched on a free port and driven through its API with gradio_client.

Every tab's endpoint answers a good request; each bad input gets an error that names the cause, and the next
good request still succeeds. Answers are checked against the library run on the same inputs with the app's
default model (a bundled one, or the untrained demo), so they hold whichever model is the default.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from PIL import Image

from app import models
from app.model_bar import model_for
from modrwkv.pipelines.image_chat import VISION_DEFAULTS, ImageChat
from tests.app_server import served_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
CIRCLE, RECTANGLE = str(EXAMPLES / "easy_vqa_circle.png"), str(EXAMPLES / "easy_vqa_rectangle.png")
SALES = str(EXAMPLES / "monthly_sales.csv")
GREEDY = dict(temperature=0, top_p=0.3, max_new_tokens=10)


@pytest.fixture(scope="module")
def url() -> str:
    with served_app(mcp=True) as (address, _):
        yield address


@pytest.fixture
def client(url: str) -> Client:
    """A new client is a new browser session."""
    return Client(url, verbose=False)


def ask(client: Client, image: str | None, message: str, history: list | None = None) -> list[list[dict]]:
    """Every streamed update of /chat (each one the whole history so far)."""
    job = client.submit(image and handle_file(image), message, history or [], *GREEDY.values(), api_name="/chat")
    return list(job)


def resend(history: list[dict]) -> list[dict]:
    """A history as /chat returned it, ready to send back: the client gives files as local paths, which must be
    uploaded again."""
    for message in history:
        for block in message["content"]:
            if block.get("type") == "file":
                block["file"] = handle_file(block["file"])
    return history


def library_answers(turns: list[tuple[str, str | None]]) -> tuple[list[str], ImageChat]:
    """What the library answers to the same turns with the same model and settings."""
    chat = ImageChat(model_for(None, "image"), models.tokenizer(), VISION_DEFAULTS.with_(**GREEDY))
    return ["".join(chat.send(q, [image] if image else [])) for q, image in turns], chat


def text(message: dict) -> str:
    return "".join(block.get("text", "") for block in message["content"])


def test_chat_streams_the_answer_about_a_bundled_image(client: Client) -> None:
    updates = ask(client, CIRCLE, "Describe the image.")
    final = updates[-1]
    assert [m["role"] for m in final] == ["user", "user", "assistant", "assistant"]
    assert final[0]["content"][0]["type"] == "file" and text(final[1]) == "Describe the image."
    answers = [text(u[3]) for u in updates if len(u) >= 4]
    # the answer grew over several updates: streamed (a batch's worker may be tokens ahead of the page, and the text
    # made between two of its reads comes as one piece)
    assert len(set(answers)) > 1
    expected, _ = library_answers([("Describe the image.", CIRCLE)])
    assert text(final[3]) == expected[0] != ""  # the answer is the last message
    assert "prompt tokens processed" in final[2]["metadata"]["title"] and final[2]["metadata"]["status"] == "done"
    live = [u[2]["metadata"]["title"] for u in updates[:-1] if len(u) == 4]
    # the figures line above the answer was updated while it streamed (the batch's worker may be tokens ahead of
    # the page, so fewer figures than answer pieces)
    assert len(set(live)) > 1


def test_a_follow_up_processes_only_its_new_tokens(client: Client) -> None:
    first = ask(client, CIRCLE, "What shape is in the image?")[-1]
    second = ask(client, None, "What color is it?", resend(first))[-1]
    _, chat = library_answers([("What shape is in the image?", CIRCLE)])
    new_tokens = len(chat.prompt_tokens("What color is it?"))
    assert second[-2]["metadata"]["title"].startswith(f"{new_tokens} prompt tokens processed (new only)")
    expected, _ = library_answers([("What shape is in the image?", CIRCLE), ("What color is it?", None)])
    assert text(second[-1]) == expected[1]


def test_an_edited_history_is_replayed_before_the_new_question(client: Client) -> None:
    first = ask(client, RECTANGLE, "What color is the shape?")[-1]
    first[3]["content"][0]["text"] = "It is blue."  # the user's history differs from the session's conversation
    second = ask(client, None, "Are you sure?", resend(first))[-1]
    assert "(new only)" in second[-2]["metadata"]["title"]
    chat = ImageChat(model_for(None, "image"), models.tokenizer(), VISION_DEFAULTS.with_(**GREEDY))
    chat.feed("What color is the shape?", "It is blue.", [RECTANGLE])
    assert text(second[-1]) == "".join(chat.send("Are you sure?"))


def test_sessions_do_not_share_a_conversation(url: str) -> None:
    ask(Client(url, verbose=False), CIRCLE, "What shape is in the image?")
    other = ask(Client(url, verbose=False), None, "What shape is in the image?")[-1]
    assert "(new only)" not in other[-2]["metadata"]["title"]


def espeak(path: Path, words: str) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-w", str(path), words], check=True)
    return path


def test_transcribe_streams_a_transcript_with_its_timing_and_downloads(client: Client, tmp_path: Path) -> None:
    recording = espeak(tmp_path / "hello.wav", "Hello, this is a test of the speech tab.")
    updates = list(client.submit(handle_file(str(recording)), api_name="/transcribe"))
    transcript, info, txt, srt = updates[-1]
    assert len(updates) > 2 and transcript.strip()
    assert "real-time factor" in info
    assert Path(txt).read_text(encoding="utf-8").strip() == transcript.strip()
    assert Path(srt).read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> 00:00:0")


def test_forecast_of_the_bundled_csv_returns_chart_table_and_csv(client: Client) -> None:
    plot, table, csv_file, metrics = client.predict(handle_file(SALES), "", 12, "", api_name="/forecast")
    assert "10-90% band" in str(plot) and "forecast (median)" in str(plot)
    assert table["headers"] == ["timestamp", "p10", "p50", "p90"] and len(table["data"]) == 12
    assert table["data"][0][0] == "2025-01-01"  # the month after the last row
    assert pd.read_csv(csv_file)["p50"].tolist() == [row[2] for row in table["data"]]
    assert "seasonal naive" in metrics


def test_efficiency_streams_points_for_both_models(client: Client) -> None:
    updates = list(client.submit("tiny", 512, 256, api_name="/efficiency"))
    plots = [plot for plot, _ in updates if plot]
    assert len(plots) >= 2  # one per point, as they are measured
    assert "RWKV-7 (state)" in str(plots[-1]) and "Transformer (KV cache)" in str(plots[-1])
    assert "context **512**" in updates[-1][1]


# -- bad input: a specific error, then the app keeps serving --------------------------------------------


def write_text(path: Path, content: str) -> str:
    path.write_text(content)
    return str(path)


def fails(client: Client, api_name: str, *args: object) -> str:
    with pytest.raises((AppError, ValidationError)) as caught:  # ValidationError: refused before the queue
        client.predict(*args, api_name=api_name)
    return str(caught.value)


def test_bad_images_and_messages_are_refused_with_the_cause(client: Client, tmp_path: Path) -> None:
    notes = write_text(tmp_path / "notes.txt", "not an image")
    assert "accepted formats: PNG, JPEG" in fails(
        client, "/chat", handle_file(notes), "What is this?", [], *GREEDY.values()
    )
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(Path(CIRCLE).read_bytes()[:60])
    assert "broken.png" in fails(client, "/chat", handle_file(str(corrupt)), "What is this?", [], *GREEDY.values())
    assert "Empty message" in fails(client, "/chat", handle_file(CIRCLE), "   ", [], *GREEDY.values())
    assert text(ask(client, CIRCLE, "What shape is in the image?")[-1][-1])  # still serving


def test_a_50_megapixel_photo_is_downscaled_not_refused(client: Client, tmp_path: Path) -> None:
    big = tmp_path / "panorama.png"
    Image.new("RGB", (10_000, 5_000), (30, 120, 200)).save(big)
    assert text(ask(client, str(big), "What color is the sky?")[-1][-1])


def test_bad_recordings_are_refused_with_the_limits(client: Client, tmp_path: Path) -> None:
    notes = write_text(tmp_path / "notes.wav", "not audio")
    assert "could not be read as audio" in fails(client, "/transcribe", handle_file(notes))
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16_000)
    assert "too short" in fails(client, "/transcribe", handle_file(str(empty)))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32_000, np.float32), 16_000)
    assert "silent" in fails(client, "/transcribe", handle_file(str(silent)))
    two_hours = tmp_path / "lecture.flac"  # digital silence compresses to almost nothing
    sf.write(two_hours, np.zeros(2 * 3600 * 8_000, np.int16), 8_000)
    assert "up to 15 minutes" in fails(client, "/transcribe", handle_file(str(two_hours)))
    recording = espeak(tmp_path / "ok.wav", "Still working.")
    assert client.predict(handle_file(str(recording)), api_name="/transcribe")[0].strip()


def test_bad_csvs_are_refused_and_gaps_are_filled(client: Client, tmp_path: Path) -> None:
    words = write_text(tmp_path / "names.csv", "name,colour\n" + "".join(f"item{i},red\n" for i in range(40)))
    assert "no numeric column" in fails(client, "/forecast", handle_file(words), "", 12, "")
    short = write_text(tmp_path / "short.csv", "day,y\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n")
    assert "the forecast model needs at least" in fails(client, "/forecast", handle_file(short), "", 12, "")
    image = handle_file(CIRCLE)
    assert "'easy_vqa_circle.png' is not a CSV, TSV or .xlsx file" in fails(client, "/forecast", image, "", 12, "")
    gaps = tmp_path / "gaps.csv"
    values = np.sin(np.arange(80) / 3.0) + 10
    values[[5, 40, 41]] = np.nan
    pd.DataFrame({"t": pd.date_range("2024-01-01", periods=80, freq="D"), "y": values}).to_csv(gaps, index=False)
    *_, metrics = client.predict(handle_file(str(gaps)), "y", 7, "", api_name="/forecast")
    assert "3 missing value(s) of `y` were filled" in metrics


def test_an_upload_over_the_size_limit_is_refused(client: Client, tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b"0\n" * (11 * 2**20))  # 22 MB, over the 20 MB limit
    with pytest.raises(Exception, match="(?i)too large|maximum|size"):
        client.predict(handle_file(str(huge)), "", 12, "", api_name="/forecast")
    assert client.predict(handle_file(SALES), "", 12, "", api_name="/forecast")[3]


def test_a_model_that_cannot_be_loaded_leaves_the_current_one_serving(client: Client, tmp_path: Path) -> None:
    message = fails(client, "/load_model", str(tmp_path / "missing"), "fp32")
    assert "missing" in message and "current models keep serving" in message
    assert text(ask(client, CIRCLE, "What shape is in the image?")[-1][-1])


def test_eight_simultaneous_sessions_each_get_their_own_answer(url: str) -> None:
    questions = [(f"Question {i}: what is in this picture?", (CIRCLE, RECTANGLE)[i % 2]) for i in range(8)]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def session(i: int) -> None:
        try:
            q, image = questions[i]
            results[i] = text(ask(Client(url, verbose=False), image, q)[-1][-1])
        except BaseException as e:  # collected: a failure in a thread must fail the test
            errors.append(e)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    for i, (q, image) in enumerate(questions):
        assert results[i] == library_answers([(q, image)])[0][0]


def test_the_endpoints_are_mcp_tools_described_by_their_docstrings(url: str) -> None:
    tools = {tool["name"]: tool for tool in httpx.get(f"{url}gradio_api/mcp/schema").json()}
    assert {"chat", "transcribe", "forecast", "measure_efficiency"} <= set(tools)
    assert tools["chat"]["description"].startswith("Ask about an image and stream the answer.")
    assert set(tools["forecast"]["inputSchema"]["properties"]) == {"path", "target_col", "horizon", "timestamp_col"}
