"""Text chat tab: a conversation per browser session that keeps its RNN state between turns."""
from __future__ import annotations

from typing import Iterator

import gradio as gr

from app.models import get_model, get_tokenizer
from modrwkv.backbone import DTYPES, default_cpu_dtype
from modrwkv.chat_session import ChatSession


def load(src: str, dtype: str) -> tuple[str, ChatSession | None]:
    """Load a model by path or Hugging Face id; a failure says why and leaves nothing half-loaded."""
    if not src.strip():
        raise gr.Error("Name a model: a .pth or safetensors path, or a Hugging Face repo id.")
    try:
        model = get_model(src, dtype)
    except (OSError, ValueError) as e:
        raise gr.Error(f"Could not load '{src}': {e}") from e
    cfg = model.config
    return f"Loaded **{src}**: RWKV-7 L{cfg.n_layer} D{cfg.n_embd}, {dtype} on CPU.", ChatSession(model, get_tokenizer())


def respond(
    message: str, history: list[dict], session: ChatSession | None, max_new_tokens: int
) -> Iterator[tuple[list[dict], str, str]]:
    if session is None:
        raise gr.Error("Load a model first.")
    if not message.strip():
        raise gr.Error("Empty message: type something to send.")
    session.config = session.config.with_(max_new_tokens=int(max_new_tokens))
    history = history + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
    for piece in session.send(message):
        history[-1]["content"] += piece
        yield history, "", ""
    s = session.last_stats
    yield history, "", (
        f"{s.prompt_tokens} new prompt tokens · {s.generated_tokens} generated · first token {s.time_to_first_token:.2f}s · "
        f"{s.decode_tokens_per_second:.1f} tok/s · state {s.state_bytes / 2**20:.2f} MiB (constant)"
    )


def reset(session: ChatSession | None) -> tuple[list, str]:
    if session is not None:
        session.reset()
    return [], ""


def build() -> None:
    """The tab's components and events, inside the caller's Blocks."""
    session = gr.State(None)
    with gr.Row():
        src = gr.Textbox(label="Model (path or Hugging Face id)", scale=4)
        dtype = gr.Dropdown(list(DTYPES), value=default_cpu_dtype(), label="dtype", scale=1)
        load_btn = gr.Button("Load", scale=1)
    status = gr.Markdown("No model loaded.")
    chatbot = gr.Chatbot(label="Chat", height=420)
    msg = gr.Textbox(label="Message", placeholder="Ask something…")
    stats = gr.Markdown()
    with gr.Row():
        max_new = gr.Slider(16, 1024, value=256, step=16, label="Max new tokens")
        clear = gr.Button("Reset conversation")
    load_btn.click(load, [src, dtype], [status, session], api_name="load_model")
    msg.submit(respond, [msg, chatbot, session, max_new], [chatbot, msg, stats], api_name="chat", concurrency_id="model")
    clear.click(reset, [session], [chatbot, stats], api_name="reset")

