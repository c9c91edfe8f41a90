"""Output: the machine header, the results table, the JSON object and the plotly charts."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from modrwkv.bench.machine import Limits, MachineInfo, MachinePerf
from modrwkv.bench.measurement import Measurement

PLOT_SUFFIXES = (".html", ".png")


def _num(x: float | None, fmt: str = ",.1f") -> str:
    return "-" if x is None else format(x, fmt)


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def header(
    info: MachineInfo, dtype: str, perf: MachinePerf | None, limits: Limits | None, dtype_note: str | None = None
) -> str:
    lines = [
        f"machine: {info.cpu} | {info.cores} cores, {info.torch_threads} torch threads | "
        f"avx512_bf16: {'yes' if info.avx512_bf16 else 'no (bf16 math is emulated)'}",
        f"torch {info.torch_version} | device {info.device} | dtype {dtype}"
        + (f" ({dtype_note})" if dtype_note else ""),
    ]
    if perf is not None:
        lines.append(
            f"measured: GEMM fp32 {perf.fp32_gflop_s:,.1f} GFLOP/s, bf16 {perf.bf16_gflop_s:,.1f} GFLOP/s | "
            f"read bandwidth {perf.read_gb_s:,.1f} GB/s"
        )
    if limits is not None:
        lines.append(
            f"limits for this RWKV model: prefill <= {limits.prefill_tok_s:,.0f} tok/s (compute-bound, "
            f"{limits.matmul_params_per_token / 1e6:,.1f}M matmul params/token) | decode <= "
            f"{limits.decode_tok_s:,.1f} tok/s at batch 1 (bandwidth-bound, "
            f"{human_bytes(limits.weight_bytes_per_token)} of weights/token)"
        )
    return "\n".join(lines)


def table(rows: Sequence[Measurement]) -> str:
    """Throughput over the batch; latency per token of one sequence."""
    return columns(*cells(rows))


def cells(rows: Sequence[Measurement]) -> tuple[list[str], list[list[str]]]:
    """The header and the formatted cells of `table`, for the plain-text and the Markdown table alike."""
    cols = [
        "system", "dtype", "context", "batch", "prefill tok/s", "prefill ms/tok", "decode tok/s", "decode ms/tok",
        "memory",
    ]
    body = [
        [
            r.system,
            r.dtype,
            str(r.context),
            str(r.batch),
            _num(r.prefill_tok_s),
            _num(r.prefill_ms_per_token, ".3f"),
            _num(r.decode_tok_s),
            _num(r.decode_ms_per_token, ".2f"),
            human_bytes(r.memory_bytes),
        ]
        for r in rows
    ]
    return cols, body


def columns(header: list[str], body: list[list[str]]) -> str:
    """A plain-text table: the first two columns (names) left-aligned, the rest (numbers) right-aligned."""
    widths = [max([len(c)] + [len(b[i]) for b in body]) for i, c in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(b) for b in body)])


def markdown(header: list[str], body: list[list[str]]) -> str:
    """The cells of `columns` as a Markdown table, aligned as it aligns them (names left, numbers right)."""
    rule = [":---" if i < 2 else "---:" for i in range(len(header))]
    return "\n".join("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in [header, rule, *body])


def json_line(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"))


def png_export_problem() -> str | None:
    """Why a PNG cannot be written here, or None: plotly renders PNGs through kaleido, which drives a Chrome or
    Chromium already installed (it would download one otherwise, which an offline machine cannot)."""
    try:
        import kaleido  # noqa: F401
        from choreographer.browsers.chromium import Chromium
    except ImportError:
        return "needs kaleido (pip install kaleido) and Chrome or Chromium"
    if Chromium.find_browser(skip_local=False) is None:
        return "needs Chrome or Chromium installed (kaleido drives it); none was found on PATH or in BROWSER_PATH"
    return None


def write_plot(rows: Sequence[Measurement], path: Path, title: str) -> Path:
    """Latency (prefill, decode) and memory against context, one trace per system and batch, log-x axes.

    Only panels with data are drawn (`memory` has no latencies). The HTML embeds plotly.js so it opens offline;
    a .png is rendered by kaleido (see png_export_problem).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metrics = [
        ("prefill latency (ms/token)", lambda r: r.prefill_ms_per_token),
        ("decode latency (ms/token)", lambda r: r.decode_ms_per_token),
        ("memory (MiB): RWKV state or KV cache", lambda r: r.memory_bytes / 2**20),
    ]
    metrics = [(name, get) for name, get in metrics if any(get(r) is not None for r in rows)]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[name for name, _ in metrics])
    series = sorted({(r.system, r.batch) for r in rows})
    for col, (_, get) in enumerate(metrics, start=1):
        for system, batch in series:
            points = sorted(
                (r.context, get(r)) for r in rows if (r.system, r.batch) == (system, batch) and get(r) is not None
            )
            fig.add_trace(
                go.Scatter(
                    x=[c for c, _ in points],
                    y=[v for _, v in points],
                    mode="lines+markers",
                    name=f"{system} B={batch}",
                    legendgroup=f"{system} B={batch}",
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(type="log", title_text="context (tokens)", row=1, col=col)
    fig.update_layout(title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        fig.write_image(str(path), width=440 * len(metrics) + 180, height=420)  # + the legend
    else:
        fig.write_html(str(path), include_plotlyjs=True)
    return path
