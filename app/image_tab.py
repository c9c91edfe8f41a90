"""Image chat tab: questions about images, streamed, in a conversation that keeps its RNN state between turns.

The chatbot's history is the record of the conversation; the session's `Conversation` holds the RNN state that
matches it. When they disagree (undo, regenerate, another model, an API caller's own history) the conversation
is rebuilt from the history's text and images before the new message.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from app import gpu, models
from app.components import upload_path_only
from app.errors import UserError, show_again, user_errors
from app.gpu import on_gpu
from app.model_bar import Selection, choice_for, model_for
from modrwkv.generation.streaming import GenerationStats
from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.image_chat import VISION_DEFAULTS, ImageChat

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"
EXAMPLES = [
    ("easy_vqa_circle.png", "What shape is in the image?"),
    ("easy_vqa_rectangle.png", "What color is the shape?"),
]
LIMITS = "Images: PNG, JPEG, WebP, GIF, BMP or TIFF up to 20 MB; very large images are downscaled."
# on a public server, one visitor's pasted book would hold the CPU for minutes: questions and the conversation's text
# are capped there (about 5,000 and 25,000 tokens)
PUBLIC_MESSAGE_CHARS = 20_000
PUBLIC_CONVERSATION_CHARS = 100_000
Message = dict[str, Any]
Turn = tuple[str, str, list[str]]  # (question, answer, image paths)


@dataclass
class Conversation:
    model: ModRWKV
    chat: ImageChat


def _text(message: Message) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def _files(message: Message) -> list[str]:
    content = message["content"]
    if isinstance(content, dict):  # a FileData dict, as API callers may send it
        return [content["path"]]
    if isinstance(content, str):
        return []
    return [block["file"]["path"] for block in content if block.get("type") == "file"]


def _is_figures(message: Message) -> bool:
    return bool((message.get("metadata") or {}).get("title"))


def _stopped_unanswered(line: Message | None, answer: Message) -> bool:
    """An answer stopped before it began: empty, under a figures line that never reached "done"."""
    return not _text(answer) and line is not None and (line.get("metadata") or {}).get("status") == "pending"


def turns(history: list[Message], answered_only: bool = False) -> list[Turn]:
    """The finished turns of a chatbot history: each question with its images and its answer. `answered_only` leaves
    out a question stopped before its answer began, which the conversation's state never took in."""
    done: list[Turn] = []
    question, images, line = "", [], None
    for message in history:
        if message["role"] == "user":
            question += _text(message)
            images += _files(message)
        elif _is_figures(message):
            line = message
        else:
            if not (answered_only and _stopped_unanswered(line, message)):
                done.append((question, _text(message), images))
            question, images, line = "", [], None
    return done


def figures(stats: GenerationStats, follow_up: bool) -> str:
    new = " (new only)" if follow_up else ""
    return (
        f"{stats.prompt_tokens} prompt tokens processed{new} · {stats.generated_tokens} generated · "
        f"first token {stats.time_to_first_token:.2f} s · {stats.decode_tokens_per_second:.1f} tok/s · "
        f"state {stats.state_bytes / 2**20:.2f} MiB"
    )


def _conversation(model: ModRWKV, history: list[Message], current: Conversation | None) -> Conversation:
    """The session's conversation if it matches `history`, else one rebuilt from the history. A question stopped
    while its prompt was read is not replayed: after Stop on a long paste, the next question does not read it again."""
    done = turns(history, answered_only=True)
    if current is not None and current.model is model and current.chat.history == [(q, a) for q, a, _ in done]:
        return current
    chat = ImageChat(model, models.tokenizer(), scheduler=models.scheduler(model),
                    encoder_queue=models.encoder_queue(model))
    with user_errors("replaying the earlier turns of this conversation"):
        for question, answer, images in done:
            chat.feed(question, answer, images)
    return Conversation(model, chat)


@on_gpu(gpu.CHAT_SECONDS)
def chat(
    image: str | None,
    message: str,
    history: list[Message] | None,
    temperature: float = VISION_DEFAULTS.temperature,
    top_p: float = VISION_DEFAULTS.top_p,
    max_new_tokens: float = 200,
    conversation: Conversation | None = None,
    selection: Selection | None = None,
) -> Iterator[tuple[list[Message], Conversation | None]]:
    """Ask about an image and stream the answer.

    Args:
        image: path or URL of an image file (PNG, JPEG, WebP, ...), or None to continue about the earlier ones.
        message: the question.
        history: the conversation so far (the chatbot's messages); [] to start a new one.
        temperature: sampling temperature; 0 always takes the most likely token.
        top_p: nucleus sampling threshold.
        max_new_tokens: the longest answer, in tokens.
    Returns:
        The history with the question, a figures message (metadata title: prompt tokens, speed, state size) and,
        last, the answer, streamed as it is written.
    """
    history = list(history or [])
    if not (message or "").strip():
        raise UserError("Empty message: type a question (an image alone is not a question).")
    if models.public():
        _check_public_length(message, history)
    model = model_for(selection, "image")
    conversation = _conversation(model, history, conversation)
    session = conversation.chat
    session.config = session.config.with_(
        temperature=float(temperature), top_p=float(top_p), max_new_tokens=int(max_new_tokens)
    )
    images = [image] if image else []
    follow_up = bool(session.history)
    history += [{"role": "user", "content": {"path": path}} for path in images]
    # the figures sit just above the answer, so that a caller's answer is the history's last message
    line = {"role": "assistant", "content": "", "metadata": {"title": "Reading the prompt…", "status": "pending"}}
    answer = {"role": "assistant", "content": ""}
    history += [{"role": "user", "content": message}, line, answer]

    def with_figures(status: str = "pending") -> tuple[list[Message], Conversation]:
        line["metadata"] = {"title": figures(session.last_stats, follow_up), "status": status}
        return history, conversation

    with user_errors("reading the image" if images else "answering"):
        for piece in session.send(message, images):
            answer["content"] += piece
            # a long prompt yields between its chunks, so that Stop or a client gone ends it there; until the first
            # token the line goes on saying that the prompt is being read
            if session.last_stats.generated_tokens:
                yield with_figures()
            else:
                line["metadata"]["title"] = waiting_line(session.ahead)
                yield history, conversation
    yield with_figures("done")


def waiting_line(ahead: int | None) -> str:
    """The figures line until the first token: the place in line while the question waits for the batch."""
    if ahead is None:
        return "Reading the prompt…"
    return f"Waiting for a place: {ahead} question(s) ahead…" if ahead else "Waiting for a place: next in line…"


def _check_public_length(message: str, history: list[Message]) -> None:
    if len(message) > PUBLIC_MESSAGE_CHARS:
        raise UserError(f"Message of {len(message):,} characters: this public server takes questions up to "
                        f"{PUBLIC_MESSAGE_CHARS:,} characters. Shorten it, or run the app on your own machine.")
    text = sum(len(m["content"]) for m in history if isinstance(m.get("content"), str)) + len(message)
    if text > PUBLIC_CONVERSATION_CHARS:
        raise UserError(f"This conversation holds {text:,} characters of text; this public server keeps "
                        f"conversations up to {PUBLIC_CONVERSATION_CHARS:,}. Start a new one (Clear).")


def decoding_defaults(selection: Selection, shown_for: str) -> tuple[dict, dict, str]:
    """The sliders at the image model's own decoding defaults once the session picks another image model (a
    published release decodes greedily, as upstream does); left as the visitor set them otherwise."""
    key = choice_for(selection, "image").key
    if key == shown_for:
        return gr.update(), gr.update(), key
    config = VISION_DEFAULTS.with_(**model_for(selection, "image").config.generation)
    return gr.update(value=config.temperature), gr.update(value=config.top_p), key


def restore_message(image: str | None, message: str) -> dict:
    """The question (and its image) back in the textbox after a failed answer: nothing the user typed is lost."""
    return gr.update(value={"text": message or "", "files": [image] if image else []}, interactive=True)


def take_message(value: dict | None, webcam: str | None) -> tuple[str | None, str, dict]:
    """Split the multimodal textbox into (image, text) for `chat`; a webcam snapshot counts as the image."""
    value = value or {}
    text = (value.get("text") or "").strip()
    files = list(value.get("files") or [])
    if not text:
        raise UserError("Empty message: type a question (an image alone is not a question).")
    if len(files) > 1:
        raise UserError(f"{len(files)} files attached: attach one image per message.")
    image = files[0] if files else webcam
    return image, text, gr.update(value=None, interactive=False)


def _drop_last_turn(history: list[Message]) -> tuple[list[Message], str, str | None]:
    done = turns(history)
    if not done:
        raise UserError("Nothing to undo: the conversation is empty.")
    cut = max(i for i, m in enumerate(history) if m["role"] == "assistant" and not _is_figures(m))
    while cut > 0 and (history[cut - 1]["role"] == "user" or _is_figures(history[cut - 1])):
        cut -= 1
    question, _, images = done[-1]
    return history[:cut], question, (images[0] if images else None)


def undo(history: list[Message]) -> tuple[list[Message], dict]:
    """Remove the last question and answer; the question goes back into the textbox."""
    kept, question, image = _drop_last_turn(history)
    return kept, gr.update(value={"text": question, "files": [image] if image else []})


def retry(history: list[Message]) -> tuple[list[Message], str | None, str]:
    """Remove the last answer and ask its question again."""
    kept, question, image = _drop_last_turn(history)
    return kept, image, question


def clear_chat() -> tuple[list[Message], None]:
    """Start a new conversation: empty history, fresh RNN state."""
    return [], None


def build(selection: gr.State) -> None:
    """The tab's components and events, inside the caller's Blocks."""
    conversation = gr.State(None, time_to_live=models.CONVERSATION_SECONDS)
    gr.Markdown(models.introduction("image"))
    chatbot = gr.Chatbot(
        label="Conversation", height=420, elem_id="chatbot",
        placeholder="Pick an example below, or attach an image with the clip button (or paste one) and ask about it. "
                    "Follow-up questions reuse the conversation's RNN state: only the new tokens are processed.",
    )
    textbox = gr.MultimodalTextbox(
        placeholder="Ask about an image…", file_types=["image"], sources=["upload"], show_label=False,
        elem_id="chat-input",
    )
    gr.Examples(
        [[{"text": q, "files": [str(EXAMPLES_DIR / f)]}] for f, q in EXAMPLES], inputs=[textbox],
        label="Try these (easy-VQA test images)",
    )
    with gr.Row():
        stop = gr.Button("Stop", size="sm")
        regenerate = gr.Button("Regenerate", size="sm")
        undo_btn = gr.Button("Undo", size="sm")
        clear = gr.Button("Clear", size="sm")
    with gr.Accordion("Webcam", open=False):
        webcam = gr.Image(sources=["webcam"], type="filepath", label="Snapshot (sent with the next message)")
    with gr.Accordion("Sampling", open=False):
        temperature = gr.Slider(0, 2, value=VISION_DEFAULTS.temperature, step=0.05, label="Temperature")
        top_p = gr.Slider(0, 1, value=VISION_DEFAULTS.top_p, step=0.05, label="Top p")
        max_new = gr.Slider(8, 1000, value=200, step=8, label="Max new tokens")
    gr.Markdown(LIMITS)
    # hidden holders give /chat its API signature (image, message, history, ...)
    # no file_types: the library checks the content and says what is accepted
    image_in = upload_path_only(gr.File(visible=False, label="Image"))
    message_in = gr.Textbox(visible=False, label="Message")
    chat_inputs = [image_in, message_in, chatbot, temperature, top_p, max_new, conversation, selection]

    asked = textbox.submit(take_message, [textbox, webcam], [image_in, message_in, textbox], api_visibility="private")
    answered = asked.success(
        chat, chat_inputs, [chatbot, conversation], api_name="chat", **models.conversation_queue("chat"),
    )
    answered.then(lambda: gr.update(interactive=True), None, textbox, api_visibility="private")
    answered.failure(restore_message, [image_in, message_in], textbox, api_visibility="private")
    again = regenerate.click(retry, [chatbot], [chatbot, image_in, message_in], api_visibility="private")
    reanswered = again.success(chat, chat_inputs, [chatbot, conversation], api_visibility="private",
                               **models.conversation_queue("chat"))
    for event in (answered, reanswered):  # a refusal leaves the conversation in view
        show_again(event, chatbot)
    stop.click(lambda: gr.update(interactive=True), None, textbox, cancels=[answered, reanswered],
               api_visibility="private")
    undo_btn.click(undo, [chatbot], [chatbot, textbox], api_visibility="private")
    clear.click(clear_chat, None, [chatbot, conversation], api_name="clear_chat")
    sampled_for = gr.State(choice_for(None, "image").key)  # the image model whose decoding defaults the sliders show
    selection.change(decoding_defaults, [selection, sampled_for], [temperature, top_p, sampled_for],
                     api_visibility="private")
