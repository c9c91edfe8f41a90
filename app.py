"""ModRWKV web app (also the Hugging Face Space entry point):
`python app.py [--host H] [--port P] [--share] [--model M] [--mcp] [--public]`.

Where an option is not given, Gradio's environment variables apply (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT,
GRADIO_MCP_SERVER: a Space sets the first to 0.0.0.0), then Gradio's defaults (127.0.0.1, 7860, no MCP).
MODRWKV_MODEL (comma-separated) names default models as --model does; a Space (SPACE_ID set) serves as --public.
MODRWKV_FILE_SECONDS: how long visitors' uploads and returned files are kept (default 3600).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import threading

from app import gpu  # noqa: F401 - first: on ZeroGPU, `spaces` must be imported before torch touches CUDA

# isort: split
import gradio as gr  # noqa: E402

from app import allocator, downloads, efficiency_tab, forecast_tab, image_tab, model_bar, models, speech_tab  # noqa: E402
from app.stale_files import Blocks  # noqa: E402

MAX_FILE_SIZE = "20mb"  # an hour of MP3 or a 10-minute WAV; larger uploads are refused before they fill the disk
QUEUE_SIZE = 64  # waiting requests beyond this are told the queue is full
FILE_SECONDS = 3600  # uploads and returned files stay this long: a page can re-show its chat for an hour


def file_retention() -> tuple[int, int]:
    """Gradio's `delete_cache` (every, age): files older than MODRWKV_FILE_SECONDS (default FILE_SECONDS) go, checked
    four times in that span (at most every 10 minutes). ValueError for a setting that is not a number >= 10."""
    text = os.environ.get("MODRWKV_FILE_SECONDS", str(FILE_SECONDS))
    try:
        age = int(text)
    except ValueError:
        age = 0
    if age < 10:
        raise ValueError(f"MODRWKV_FILE_SECONDS must be a whole number of seconds >= 10, found {text!r}")
    return max(10, min(600, age // 4)), age


def _sharing() -> str:
    """How visitors share the models, as the page's introduction says it."""
    device = models.device().upper()
    if models.max_batch() == 1:
        return f"one request per model at a time on this {device} (waiting users see their place in the queue)."
    return (f"on this {device} up to {models.max_batch()} chats and {models.max_batch()} transcriptions at once, each "
            "model's advancing together in shared batched steps; other requests run one per model at a time (waiting "
            "users see their place in the queue).")


def build_app(delete_cache: tuple[int, int] | None = None) -> gr.Blocks:
    """`delete_cache`: Gradio's (every, age); default `file_retention()`."""
    # Blocks: a page that outlived its files is told so
    with Blocks(title="ModRWKV", delete_cache=delete_cache or file_retention()) as demo:
        gr.Markdown(
            "# ModRWKV\nA multimodal assistant on RWKV-7, an RNN: linear-time prefill and a fixed-size state instead "
            "of a KV cache. Chat about an image, transcribe a recording, or forecast a CSV; the Efficiency tab "
            f"measures RWKV-7 against a Transformer live. Uploads up to {MAX_FILE_SIZE.upper()}; {_sharing()}"
        )
        bar = model_bar.build(first="image")
        with gr.Tab("Image chat") as image:
            image_tab.build(bar.selection)
        with gr.Tab("Speech") as speech:
            speech_tab.build(bar.selection)
        with gr.Tab("Time-series forecast") as forecast:
            forecast_tab.build(bar.selection)
        with gr.Tab("Efficiency") as efficiency:
            efficiency_tab.build()
        for tab, modality in ((image, "image"), (speech, "audio"), (forecast, "series")):
            bar.follow(tab, modality)
        bar.hide_on(efficiency)
    return demo


def serve(
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    mcp: bool | None = None,
    block: bool = True,
    delete_cache: tuple[int, int] | None = None,
) -> gr.Blocks:
    """Build the app and serve it; `block=False` returns once it is up (tests, notebooks). None for `host`, `port`
    and `mcp` leaves them to Gradio's environment variables and defaults."""
    threading.Thread(target=models.load_defaults, daemon=True).start()  # beside start-up, not in a first request
    demo = build_app(delete_cache).queue(max_size=QUEUE_SIZE)
    demo.launch(server_name=host, server_port=port, share=share, mcp_server=mcp, max_file_size=MAX_FILE_SIZE,
                allowed_paths=models.card_files(), state_session_capacity=models.SESSION_CAPACITY,
                prevent_thread_lock=not block, quiet=not block)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="interface to listen on (0.0.0.0 for every one); default GRADIO_SERVER_NAME, "
                                       "else 127.0.0.1")
    parser.add_argument("--port", type=int, help="default GRADIO_SERVER_PORT, else 7860")
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--model", action="append", default=[],
                        help="a model to load before serving and make the default of its tab (catalog key, folder or "
                             "Hugging Face id); repeatable; default MODRWKV_MODEL")
    parser.add_argument("--mcp", action=argparse.BooleanOptionalAction, default=None,
                        help="also serve the endpoints as MCP tools (needs gradio[mcp]); default GRADIO_MCP_SERVER")
    parser.add_argument("--public", action="store_true",
                        help="serve as a public site: the model list only, Hub models below a size limit (always on "
                             "a Hugging Face Space)")
    args = parser.parse_args(argv)
    if args.mcp and importlib.util.find_spec("mcp") is None:
        parser.error("--mcp needs Gradio's MCP extra: pip install 'gradio[mcp]==6.31.0'")
    try:
        retention = file_retention()
        models.max_batch()  # a mistyped setting stops the start, named
        models.worker_threads()
    except ValueError as e:
        parser.error(str(e))
    allocator.limit_arenas()  # before the models load and Gradio's worker threads start
    models.set_public(args.public)
    sources = args.model or [s.strip() for s in os.environ.get("MODRWKV_MODEL", "").split(",") if s.strip()]
    for source in sources:
        try:
            models.preload(source)
        except (OSError, ValueError) as e:
            parser.error(f"--model {source}: {e}")
    downloads.start_sweeping()  # an idle server drops its visitors' download files too
    allocator.start_trimming()
    serve(args.host, args.port, args.share, args.mcp, delete_cache=retention)


if __name__ == "__main__":
    main()
