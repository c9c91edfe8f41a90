"""ModRWKV web app (also the Hugging Face Space entry point)."""
from __future__ import annotations

import gradio as gr

from app import efficiency, forecast_tab, text_chat


def build_app() -> gr.Blocks:
    with gr.Blocks(title="ModRWKV") as demo:
        gr.Markdown("# ModRWKV\nRWKV-7: linear-time prefill, a fixed-size state instead of a KV cache.")
        with gr.Tab("Text chat"):
            text_chat.build()
        with gr.Tab("Efficiency"):
            efficiency.build()
        with gr.Tab("Time-series forecast"):
            forecast_tab.build()
    return demo


if __name__ == "__main__":
    build_app().queue(default_concurrency_limit=2).launch(max_file_size="50mb")
