"""Training data: the three loaders (and their refusals, naming file and line), the prompt layout with answer-only
labels, and that masked positions get no gradient."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from PIL import Image

from modrwkv import RWKV7, RWKVTokenizer
from modrwkv.multimodal.official import IMAGE_PAD_ID, TURN_END_ID, VISION_END_ID, VISION_START_ID
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.train.config import DataConfig
from modrwkv.train.data import DataError, load_audio_manifest, load_llava, load_records, load_series_windows
from modrwkv.train.losses import answer_loss
from modrwkv.train.samples import IGNORE_INDEX, conversation_sample, expand, text_batch, transcript_sample


@pytest.fixture(scope="module")
def tokenizer() -> RWKVTokenizer:
    return RWKVTokenizer()


def record(image: str | None = "a.png", *turns: tuple[str, str]) -> dict:
    turns = turns or (("<image>\nWhat is it?", "A square."),)
    messages = [m for q, a in turns for m in ({"from": "human", "value": q}, {"from": "gpt", "value": a})]
    return {"id": "x", **({"image": image} if image else {}), "conversations": messages}


@pytest.fixture
def image_dir(tmp_path):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.png")
    return tmp_path


# -- LLaVA JSON -----------------------------------------------------------------------------------


def test_llava_json_reads_turns_image_and_answers(image_dir):
    path = image_dir / "data.json"
    two_turns = record("a.png", ("What colour?\n<image>", "Red."), ("And the shape?", "Square."))
    path.write_text(json.dumps([record(), two_turns, {**record(None, ("Hi", "Hello.")), "answers": ["hello"]}]))
    first, second, text_only = load_llava(path)
    assert first.image == image_dir / "a.png" and first.turns == (("What is it?", "A square."),)
    assert second.turns == (("What colour?", "Red."), ("And the shape?", "Square.")) and second.image_turn == 0
    assert first.answers == ("A square.",) and text_only.answers == ("hello",) and text_only.image is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"image": "a.png"}, "'conversations' must be a non-empty list"),
        (record("missing.png"), "image file not found"),
        (
            {**record(), "conversations": [{"from": "gpt", "value": "x"}]},
            r"conversations\[0\] is from 'gpt'; expected 'human'",
        ),
        ({**record(), "conversations": [{"from": "human", "value": "<image> q"}]}, "the last question has no answer"),
        (record(None), "a question has <image> but the record has no 'image'"),
        (record("a.png", ("<image>", "x")), "a question holds only <image>"),
        ({**record(), "answers": []}, "'answers' must be a non-empty list"),
    ],
)
def test_llava_json_array_refuses_a_bad_record_naming_its_index_and_line(image_dir, bad, message):
    path = image_dir / "data.json"
    text = json.dumps([record(), record(), bad], indent=2)
    path.write_text(text)
    start_line = [n for n, line in enumerate(text.splitlines(), 1) if line == "  {"][2]
    with pytest.raises(DataError, match=re.escape(f"{path}, record 2 (line {start_line}): ") + message):
        list(load_llava(path))


def test_llava_jsonl_refuses_bad_json_and_a_bad_record_naming_the_line(image_dir):
    path = image_dir / "data.jsonl"
    path.write_text(json.dumps(record()) + "\n\n" + '{"image": "a.png", "conversations": [\n')
    with pytest.raises(DataError, match=re.escape(f"{path}, line 3: invalid JSON")):
        list(load_llava(path))
    path.write_text(json.dumps(record()) + "\n" + json.dumps({**record(), "image": 3}) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: 'image' must be a path")):
        list(load_llava(path))


def test_a_json_file_that_is_not_an_array_is_refused(image_dir):
    path = image_dir / "data.json"
    path.write_text(json.dumps(record()))
    with pytest.raises(DataError, match=re.escape(f"{path}, line 1: expected a JSON array")):
        list(load_llava(path))


# -- audio manifest ---------------------------------------------------------------------------------


@pytest.fixture
def wav_dir(tmp_path):
    t = np.arange(16_000) / 16_000
    sf.write(tmp_path / "a.wav", 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32), 16_000)
    return tmp_path


def test_audio_manifest_csv_and_jsonl(wav_dir):
    csv_path = wav_dir / "m.csv"
    pd.DataFrame({"audio": ["a.wav", "a.wav"], "text": ["hello world", "good bye"]}).to_csv(csv_path, index=False)
    assert [r.text for r in load_audio_manifest(csv_path)] == ["hello world", "good bye"]
    jsonl = wav_dir / "m.jsonl"
    jsonl.write_text(json.dumps({"audio": str(wav_dir / "a.wav"), "text": "hi"}) + "\n")
    (only,) = load_audio_manifest(jsonl)
    assert only.audio == wav_dir / "a.wav" and only.text == "hi"


@pytest.mark.parametrize(
    "rows, message",
    [
        ("audio,text\na.wav,hello\na.wav,\n", "line 3: 'text' must be a non-empty string"),
        ("audio,text\na.wav,hello\nb.wav,bye\n", "line 3: audio file not found"),
        ("audio,text\na.wav,hello\na.wav,bye,extra\n", "line 3: the fields do not match the header's 2 columns"),
        ("path,sentence\na.wav,hello\n", "line 1: the header needs the columns audio, text"),
    ],
)
def test_audio_manifest_csv_refuses_a_bad_row_naming_the_line(wav_dir, rows, message):
    path = wav_dir / "m.csv"
    path.write_text(rows)
    with pytest.raises(DataError, match=re.escape(f"{path}, {message}")):
        list(load_audio_manifest(path))


def test_audio_manifest_jsonl_refuses_a_bad_record_naming_the_line(wav_dir):
    path = wav_dir / "m.jsonl"
    path.write_text('{"audio": "a.wav", "text": "hi"}\n{"audio": "a.wav"}\n')
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: 'text' must be a non-empty string")):
        list(load_audio_manifest(path))


# -- time-series CSV --------------------------------------------------------------------------------


def test_series_windows_slide_over_the_numeric_columns(tmp_path):
    path = tmp_path / "s.csv"
    values = np.arange(10, dtype=float)
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=10).astype(str), "y": values}).to_csv(path, index=False)
    windows = list(load_series_windows(path, None, context=4, horizon=2, stride=2))
    assert len(windows) == 3  # starts 0, 2, 4
    np.testing.assert_array_equal(windows[1].context[:, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(windows[1].target[:, 0], [6, 7])
    assert windows[1].where == f"{path}, line 4"  # the window's first row (header is line 1)


@pytest.mark.parametrize(
    "text, columns, message",
    [
        ("t,y\n1,0.5\n2,0.7\n3,oops\n4,1\n", None, ", line 4: column 'y': 'oops' is not a number"),
        ("t,y\n1,0.5\n2,0.7,9\n", None, ", line 3: 3 fields, the header has 2"),
        ("t,y\n1,0.5\n", ["z"], ", line 1: no column 'z'"),
        ("t,y\n1,0.5\n2,0.6\n", None, ": 2 rows, fewer than context + horizon = 3"),
    ],
)
def test_series_csv_refuses_a_bad_row_naming_the_line(tmp_path, text, columns, message):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"{path}{message}")):
        list(load_series_windows(path, columns, context=2, horizon=1))


def test_max_records_caps_what_is_loaded(image_dir):
    path = image_dir / "data.json"
    path.write_text(json.dumps([record()] * 5))
    assert len(load_records(DataConfig(format="llava", path=str(path), max_records=2))) == 2


# -- prompt layout and masking ----------------------------------------------------------------------


def test_prepend_layout_is_the_image_chat_prompt_with_labels_on_answers_only(image_dir, tokenizer):
    path = image_dir / "data.json"
    path.write_text(json.dumps([record("a.png", ("<image>\nWhat is it?", "A square."), ("Colour?", "Red."))]))
    (conv,) = load_llava(path)
    ids, targets, slots = expand(conversation_sample(conv, tokenizer, "prepend"), 3, IMAGE_PAD_ID)
    turn1 = tokenizer.encode("\x16User: What is it?\x17Assistant:")
    answer1 = tokenizer.encode(" A square.") + [TURN_END_ID]
    turn2 = tokenizer.encode("\x16User: Colour?\x17Assistant:")
    answer2 = tokenizer.encode(" Red.") + [TURN_END_ID]
    assert ids == [IMAGE_PAD_ID] * 3 + turn1 + answer1 + turn2 + answer2
    assert slots == [True] * 3 + [False] * (len(ids) - 3)
    # position t predicts token t + 1: the loss sees exactly the answer tokens, each stop token included
    learned = [ids[t + 1] for t, target in enumerate(targets) if target != IGNORE_INDEX]
    assert learned == answer1 + answer2
    assert all(targets[t] == ids[t + 1] for t in range(len(ids) - 1) if targets[t] != IGNORE_INDEX)


def test_placeholder_layout_wraps_the_image_in_vision_tokens(image_dir, tokenizer):
    path = image_dir / "data.json"
    path.write_text(json.dumps([record()]))
    (conv,) = load_llava(path)
    ids, _, slots = expand(conversation_sample(conv, tokenizer, "placeholder"), 2, IMAGE_PAD_ID)
    expected = (tokenizer.encode("\x16User:") + [VISION_START_ID, IMAGE_PAD_ID, IMAGE_PAD_ID, VISION_END_ID]
                + tokenizer.encode("What is it?\x17\x16Assistant:") + tokenizer.encode(" A square.") + [TURN_END_ID])
    assert ids == expected and sum(slots) == 2


def test_audio_layout_is_the_transcriber_prompt(wav_dir, tokenizer):
    path = wav_dir / "m.csv"
    path.write_text("audio,text\na.wav,hello world\n")
    (rec,) = load_audio_manifest(path)
    ids, targets, _ = expand(transcript_sample(rec, tokenizer), 4, IMAGE_PAD_ID)
    answer = tokenizer.encode(" hello world") + [TURN_END_ID]
    assert ids == [IMAGE_PAD_ID] * 4 + tokenizer.encode("\x16Assistant:") + answer
    assert [t for t in targets if t != IGNORE_INDEX] == answer


def test_masked_positions_get_no_gradient_and_do_not_change_the_loss(image_dir, tokenizer):
    path = image_dir / "data.json"
    path.write_text(json.dumps([record(), record("a.png", ("<image> Say more.", "It is a red square on white."))]))
    samples = [conversation_sample(c, tokenizer, "prepend") for c in load_llava(path)]
    batch = text_batch(samples, [3, 5], IMAGE_PAD_ID)  # different lengths: the first row is padded
    llm = RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(2, 64, head_size=32)), pack_weights=False)
    hidden = llm.forward_embeds(llm.emb(batch["ids"]), hidden=True)[0].detach().requires_grad_()
    loss = answer_loss(llm, hidden, batch["targets"])
    loss.backward()
    masked = batch["targets"] == IGNORE_INDEX
    assert masked.any() and (~masked).any()
    assert torch.all(hidden.grad[masked] == 0)
    assert torch.all(hidden.grad[~masked].abs().sum(-1) > 0)
    # whatever sits at masked positions (prompt, image, padding) is not part of the loss
    scrambled = hidden.detach().clone()
    scrambled[masked] = torch.randn_like(scrambled[masked])
    assert answer_loss(llm, scrambled, batch["targets"]).item() == loss.item()
