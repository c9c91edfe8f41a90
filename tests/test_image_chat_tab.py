"""The Image chat tab's history handling: turns read from the chatbot, undo, regenerate, and Stop."""
from __future__ import annotations

import re

import gradio as gr
import pytest

from app import image_tab

FIGURES = {"role": "assistant", "content": [{"type": "text", "text": ""}], "metadata": {"title": "9 prompt tokens"}}


def said(role: str, text: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": text}], "metadata": None}


def picture(path: str) -> dict:
    return {"role": "user", "content": [{"type": "file", "file": {"path": path}}], "metadata": None}


HISTORY = [  # as the tab writes it: each answer last, under its figures
    picture("/tmp/cat.png"), said("user", "What is this?"), FIGURES, said("assistant", "A cat."),
    said("user", "What colour?"), FIGURES, said("assistant", "Grey."),
]


def test_turns_pair_each_question_and_its_images_with_the_answer() -> None:
    assert image_tab.turns(HISTORY) == [("What is this?", "A cat.", ["/tmp/cat.png"]), ("What colour?", "Grey.", [])]


def test_undo_removes_the_last_turn_and_gives_its_question_back() -> None:
    kept, box = image_tab.undo(HISTORY)
    assert kept == HISTORY[:4]
    assert box["value"] == {"text": "What colour?", "files": []}
    kept, box = image_tab.undo(kept)
    assert kept == [] and box["value"] == {"text": "What is this?", "files": ["/tmp/cat.png"]}


def test_regenerate_asks_the_last_question_again_with_its_image() -> None:
    assert image_tab.retry(HISTORY[:4]) == ([], "/tmp/cat.png", "What is this?")


def test_undo_on_an_empty_conversation_says_so() -> None:
    with pytest.raises(gr.Error, match="Nothing to undo"):
        image_tab.undo([])


def test_a_stopped_answer_keeps_the_conversation_consistent() -> None:
    stream = image_tab.chat(None, "Tell me a long story.", [], 0, 0.3, 200)
    history, conversation = next(stream)
    for _ in range(3):
        history, conversation = next(stream)
    stream.close()  # what the Stop button does to the generator
    line, answer = history[-2:]
    assert image_tab.turns(history) == [("Tell me a long story.", answer["content"], [])]
    assert conversation.chat.history == [("Tell me a long story.", answer["content"].strip())]
    # the figures line above the answer counted the generated tokens shown, while it streamed: one an update, or more
    # where the batch's worker was ahead of the reader and the text between two reads came as one piece
    figures = re.match(r"\d+ prompt tokens processed · (\d+) generated · first token", line["metadata"]["title"])
    assert figures and int(figures.group(1)) >= 4
    # the next message continues this conversation: no rebuild, only the new tokens processed
    *_, (after, same) = image_tab.chat(None, "Go on.", history, 0, 0.3, 4, conversation)
    assert same is conversation and "(new only)" in after[-2]["metadata"]["title"]


def test_a_failed_answer_gives_the_question_and_its_image_back_to_the_textbox() -> None:
    box = image_tab.restore_message("/tmp/notes.pdf", "What is in this photo?")
    assert box["value"] == {"text": "What is in this photo?", "files": ["/tmp/notes.pdf"]} and box["interactive"]


def test_a_question_stopped_while_its_long_prompt_is_read_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from modrwkv.generation import streaming

    monkeypatch.setattr(streaming, "CPU_CHUNK_POSITIONS", 64)
    monkeypatch.setenv("MODRWKV_BATCH", "1")  # one at a time: the stream reads the prompt only as it is pulled
    *_, (history, conversation) = image_tab.chat(None, "Hello", [], 0, 0.3, 4)
    stream = image_tab.chat(None, "Summarise: " + "the red circle is next to the blue square. " * 100, history, 0,
                            0.3, 200, conversation)
    history, conversation = next(stream)  # between two chunks of the prompt: nothing generated yet
    assert history[-2]["metadata"] == {"title": "Reading the prompt…", "status": "pending"}
    assert not history[-1]["content"]
    stream.close()  # Stop
    assert len(conversation.chat.history) == 1  # the stopped question never entered the state
    *_, (after, same) = image_tab.chat(None, "Go on.", history, 0, 0.3, 4, conversation)
    assert same is conversation  # no rebuild: the long question is not read again
    read = re.match(r"(\d+) prompt tokens processed \(new only\)", after[-2]["metadata"]["title"])
    assert read and int(read[1]) < 50  # "Go on." and its turn markers, not the thousand tokens stopped
