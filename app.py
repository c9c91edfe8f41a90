"""ModRWKV web app (also the Hugging Face Space entry point): `python app.py [--host H] [--port P] [--share] [--model M] [--mcp]`."""
from __future__ import annotations

import argparse
import importlib.util
import threading

import gradio as gr

from app import efficiency, forecast_tab, image_chat, model_bar, models, speech

MAX_FILE_SIZE = "20mb"  # an hour of MP3 or a 10-minute WAV; larger uploads are refused before they fill the disk
QUEUE_SIZE = 64  # waiting requests beyond this are told the queue is full


def build_app() -> gr.Blocks:
    with gr.Blocks(title="ModRWKV") as demo:
        gr.Markdown(
            "# ModRWKV\nA multimodal assistant on RWKV-7: linear-time prefill and a fixed-size state instead of a "
            f"KV cache. Uploads up to {MAX_FILE_SIZE.upper()}; one request per model at a time on this "
            f"{models.DEVICE.upper()} (waiting users see their place in the queue)."
        )
        bar = model_bar.build(first="image")
        with gr.Tab("Image chat") as image_tab:
            image_chat.build(bar.selection)
        with gr.Tab("Speech") as speech_tab:
            speech.build(bar.selection)
        with gr.Tab("Time-series forecast") as forecast:
            forecast_tab.build(bar.selection)
        with gr.Tab("Efficiency") as efficiency_tab:
            efficiency.build()
        for tab, modality in ((image_tab, "image"), (speech_tab, "audio"), (forecast, "series")):
            bar.follow(tab, modality)
        bar.hide_on(efficiency_tab)
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860, share: bool = False, mcp: bool = False, block: bool = True) -> gr.Blocks:
    """Build the app and serve it; `block=False` returns once it is up (tests, notebooks)."""
    threading.Thread(target=models.load_defaults, daemon=True).start()  # beside start-up, not in a first request
    demo = build_app().queue(max_size=QUEUE_SIZE)
    demo.launch(server_name=host, server_port=port, share=share, mcp_server=mcp, max_file_size=MAX_FILE_SIZE,
                prevent_thread_lock=not block, quiet=not block)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for every one)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--model", action="append", default=[],
                        help="a model to load before serving (catalog key, folder or Hugging Face id); repeatable")
    parser.add_argument("--mcp", action="store_true", help="also serve the endpoints as MCP tools (needs gradio[mcp])")
    args = parser.parse_args(argv)
    if args.mcp and importlib.util.find_spec("mcp") is None:
        parser.error("--mcp needs Gradio's MCP extra: pip install 'gradio[mcp]==6.31.0'")
    for source in args.model:
        try:
            models.preload(source)
        except (OSError, ValueError) as e:
            parser.error(f"--model {source}: {e}")
    serve(args.host, args.port, args.share, args.mcp)


if __name__ == "__main__":
    main()
