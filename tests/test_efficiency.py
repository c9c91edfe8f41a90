"""The live Efficiency panel: `modrwkv.pipelines.efficiency.growing_context` and the Gradio tab built on it
(no timing checks)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
import torch

from app import efficiency_tab
from modrwkv.bench.transformer_runner import baseline_shape, kv_cache_bytes
from modrwkv.pipelines.efficiency import LivePoint, formats, growing_context

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def points() -> list[LivePoint]:
    return list(growing_context("tiny", 96, 32, dtype="fp32"))


def test_one_context_grows_by_step(points: list[LivePoint]) -> None:
    assert [p.context for p in points] == [32, 64, 96]
    assert all(p.rwkv_ms_per_token > 0 and p.transformer_ms_per_token > 0 for p in points)


def test_state_is_constant_while_the_kv_cache_grows_linearly(points: list[LivePoint]) -> None:
    assert len({p.rwkv_state_bytes for p in points}) == 1
    # exactly the prompt tokens: the timed decode steps were cropped off the cache
    tiny = baseline_shape("tiny")
    assert [p.transformer_cache_bytes for p in points] == [kv_cache_bytes(tiny, c, 1, 4) for c in (32, 64, 96)]


def test_the_last_step_is_shorter_when_step_does_not_divide_max_context() -> None:
    assert [p.context for p in growing_context("tiny", 40, 32, dtype="fp32", decode_tokens=1)] == [32, 40]


def test_closing_early_stops_the_run_and_leaves_inference_mode_off() -> None:
    live = growing_context("tiny", 10_000, 16, decode_tokens=1)
    assert next(live).context == 16
    assert not torch.is_inference_mode_enabled()  # not left on across the yield
    live.close()
    with pytest.raises(StopIteration):
        next(live)


@pytest.mark.parametrize(
    "args, message",
    [
        (("huge", 96, 32), "unknown shape 'huge'; choose from 0.1b, 0.4b, 1.5b, 2.9b, tiny"),
        (("tiny", 96, 0), "step must be at least 1"),
        (("tiny", 16, 32), r"max_context \(16\) must be at least step \(32\)"),
    ],
)
def test_bad_arguments_are_refused_before_any_model_loads(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        growing_context(*args)


def test_run_yields_a_figure_per_point_with_one_trace_per_model_and_panel() -> None:
    outputs = list(efficiency_tab.measure_efficiency("tiny", 96, 32))
    assert outputs[0][0] is None and "Loading" in outputs[0][1]
    figures = [fig for fig, _ in outputs[1:]]
    assert len(figures) == 3
    names = [trace.name for trace in figures[-1].data]
    assert names == [efficiency_tab.RWKV_NAME] * 2 + [efficiency_tab.TRANSFORMER_NAME] * 2
    assert efficiency_tab.RWKV_NAME == "RWKV-7 (state)" and efficiency_tab.TRANSFORMER_NAME == "Transformer (KV cache)"
    assert all(tuple(trace.x) == (32, 64, 96) for trace in figures[-1].data)
    assert tuple(figures[0].data[0].x) == (32,)
    assert "context **96**" in outputs[-1][1]


def test_run_reports_bad_arguments_as_a_gradio_error() -> None:
    with pytest.raises(gr.Error, match="max_context"):
        next(efficiency_tab.measure_efficiency("tiny", 16, 32))


def test_the_panel_names_the_formats_both_models_run_in() -> None:
    assert formats("int8") == "RWKV-7 in int8 (int8 matrices, fp32 math), the Transformer in fp32"
    assert formats("bf16") == "RWKV-7 in bf16 (bf16 matrices, bf16 math), the Transformer in bf16"
