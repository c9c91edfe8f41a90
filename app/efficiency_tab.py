"""Efficiency tab: RWKV-7 and a Transformer grow one context each, plotted point by point as it is measured."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app import models
from app.errors import UserError
from modrwkv.pipelines.efficiency import LivePoint, check_fits, formats, growing_context, live_shapes, shapes_that_fit

RWKV_NAME = "RWKV-7 (state)"
TRANSFORMER_NAME = "Transformer (KV cache)"
DEFAULT_SHAPE = "0.1b"
MAX_CONTEXT = 16384


def figure(points: Sequence[LivePoint]) -> go.Figure:
    """Decode latency and state/cache memory against context, one colour per model across both panels."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["decode latency (ms/token)", "memory (MiB)"])
    x = [p.context for p in points]
    series = [
        (RWKV_NAME, [p.rwkv_ms_per_token for p in points], [p.rwkv_state_bytes / 2**20 for p in points]),
        (
            TRANSFORMER_NAME,
            [p.transformer_ms_per_token for p in points],
            [p.transformer_cache_bytes / 2**20 for p in points],
        ),
    ]
    for colour, (name, latency, memory) in zip(("#1f77b4", "#d62728"), series):
        for col, y in ((1, latency), (2, memory)):
            fig.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines+markers", name=name, legendgroup=name, showlegend=col == 1,
                    line={"color": colour},
                ),
                row=1,
                col=col,
            )
    # linear x: the points are evenly spaced, and the KV cache's linear growth then reads as a straight line
    fig.update_xaxes(title_text="context (tokens)")
    fig.update_layout(margin={"t": 40}, legend={"orientation": "h"})
    return fig


def measure_efficiency(
    shape: str = DEFAULT_SHAPE, max_context: float = 2048, step: float = 256
) -> Iterator[tuple[go.Figure | None, str]]:
    """Measure RWKV-7 against a Transformer with a KV cache while one context grows, streaming each point.

    Args:
        shape: RWKV-7 shape with random weights ("tiny", "0.1b", "0.4b", ...); the Transformer is of similar size.
        max_context: the longest context to reach, in tokens.
        step: tokens fed between two measurements.
    Returns:
        A chart of decode latency and state/KV-cache memory against context, and a summary line, after each point.
    """
    if shape in live_shapes():
        try:
            check_fits(shape, int(max_context))
        except MemoryError as e:
            raise UserError(str(e)) from None
    try:
        points = growing_context(shape, int(max_context), int(step))
    except ValueError as e:
        raise UserError(str(e)) from e
    yield None, f"Loading RWKV-7 {shape} and its Transformer baseline …"
    done: list[LivePoint] = []
    for point in points:
        done.append(point)
        yield figure(done), point.summary()


def build() -> None:
    """The tab's components and events, inside the caller's Blocks."""
    gr.Markdown(
        "RWKV-7 (random weights of the chosen shape) and a Transformer of similar size (SmolLM2-135M; a tiny Llama "
        "for `tiny`) each grow **one** context: every point feeds *step* more tokens (RWKV carries its state, the "
        "Transformer extends its KV cache), then times a few decode steps. Measured on this server's CPU, one run "
        f"at a time, in the queue of the model requests; each run loads its own models: {formats()}. Only the shapes "
        "that fit in this server's free memory at the longest context are offered."
    )
    fitting = shapes_that_fit(MAX_CONTEXT) or live_shapes()[-1:]  # the tiny test shape
    with gr.Row():
        shape = gr.Dropdown(
            fitting, value=DEFAULT_SHAPE if DEFAULT_SHAPE in fitting else fitting[0], label="RWKV-7 shape"
        )
        max_context = gr.Slider(256, MAX_CONTEXT, value=2048, step=256, label="Max context (tokens)")
        step = gr.Slider(64, 2048, value=256, step=64, label="Step (tokens per point)")
    with gr.Row():
        start = gr.Button("Start", variant="primary")
        stop = gr.Button("Stop")
    status = gr.Markdown(label="Summary")
    plot = gr.Plot(label="Latency and memory vs context")
    running = start.click(
        measure_efficiency, [shape, max_context, step], [plot, status], api_name="efficiency",
        concurrency_id="model", concurrency_limit=models.model_concurrency(),
    )
    stop.click(None, None, None, cancels=[running], api_name="efficiency_stop", api_visibility="private")
