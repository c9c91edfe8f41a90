"""`app-load`'s output: the readable tables of a run's result, and its plotly chart (latency over time per endpoint,
and the server's memory over time)."""
from __future__ import annotations

from pathlib import Path

from modrwkv.bench.report import human_bytes
from modrwkv.bench.report import markdown as markdown_table

MOMENTS = ("start", "warm", "end", "peak", "settled")
MOMENT_NAMES = {"start": "start", "warm": "after warm-up", "end": "end", "peak": "peak", "settled": "settled"}


def _seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _grid(header: list[str], body: list[list[str]]) -> str:
    """A plain-text table: the first column (names) left-aligned, the others (figures) right-aligned."""
    widths = [max([len(h)] + [len(row[i]) for row in body]) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(row) for row in body)])


def endpoint_cells(result: dict) -> tuple[list[str], list[list[str]]]:
    header = ["endpoint", "requests", "served", "errors", "queue full", "p50 s", "p95 s", "first update p50 s",
              "first text p50 s", "first text p95 s", "tokens", "warm-up s"]
    body = []
    for endpoint, s in result["endpoints"].items():
        warm = result["warmup"].get(endpoint, {})
        body.append([
            endpoint, str(s["requests"]), str(s["served"]), str(sum(s["errors"].values())), str(s["queue_full"]),
            _seconds(s["latency_p50_s"]), _seconds(s["latency_p95_s"]), _seconds(s["first_update_p50_s"]),
            _seconds(s.get("first_text_p50_s")), _seconds(s.get("first_text_p95_s")),
            "-" if s.get("tokens") is None else str(s["tokens"]),
            "error" if warm.get("error") else _seconds(warm.get("latency_s")),
        ])
    return header, body


def error_lines(result: dict) -> list[str]:
    """Each kind of error once, with its endpoint and count (warm-up and session failures included)."""
    lines = [f"{endpoint}: {n} x {kind}" for endpoint, s in result["endpoints"].items()
             for kind, n in s["errors"].items()]
    lines += [f"{endpoint} (warm-up): {w['error']}" for endpoint, w in result["warmup"].items() if w.get("error")]
    lines += [f"session: {kind}" for kind in result["connect_errors"]]
    return lines


def _usage(usage: dict[str, int]) -> str:
    empty = f" ({usage['empty']} empty)" if usage["empty"] else ""
    return f"{human_bytes(usage['bytes'])}, {usage['files']} files{empty}"


def server_cells(server: dict) -> tuple[list[str], list[list[str]]]:
    header = ["server", *(MOMENT_NAMES[m] for m in MOMENTS)]
    rss, fds = server["rss_bytes"], server["open_files"]
    body = [
        ["RSS (with children)", *("-" if rss.get(m) is None else human_bytes(rss[m]) for m in MOMENTS)],
        ["open files", *("-" if fds.get(m) is None else str(fds[m]) for m in MOMENTS)],
    ]
    for name, folder in server["folders"].items():
        body.append([f"{name} folder", *("-" if folder.get(m) is None else _usage(folder[m]) for m in MOMENTS)])
    return header, body


def _summary(result: dict) -> str:
    how = "started by the bench" if result["started"] else "given by --url"
    return (f"app: {result['url']} ({how}) | {result['visitors']} visitors for {result['minutes']:g} min, think "
            f"{result['think_s']:g} s mean, seed {result['seed']} | {result['requests']} requests in "
            f"{result['visit_seconds']:.0f} s"
            + (f", {result['tokens_per_second']:.1f} tokens/s generated" if "tokens_per_second" in result else "")
            + (f" | batch {result['batch']}" if result.get("batch") else "")
            + (f" | random {result['backbone']} backbone" if result.get("backbone") else "")
            + (f" | only {', '.join(result['only'])}" if result.get("only") else "")
            + (f" | the app keeps visitors' files {result['file_seconds']:g} s" if result.get("file_seconds") else ""))


def text(result: dict) -> str:
    """The run in a few lines and tables, as the command prints it."""
    lines = [_summary(result), "", _grid(*endpoint_cells(result))]
    if errors := error_lines(result):
        lines += ["", "errors:", *(f"  {line}" for line in errors)]
    server = result["server"]
    if server is not None:
        lines += ["", f"server pid {server['pid']}; settled = {result['settle_s']:g} s after the sessions ended",
                  _grid(*server_cells(server))]
        lines += [f"  {name} folder: {folder['path']}" for name, folder in server["folders"].items()]
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The run as Markdown (for docs/): the summary line, the endpoints' table, the errors and the server's table
    (settled = `settle_s` after the sessions ended)."""
    parts = [_summary(result), markdown_table(*endpoint_cells(result))]
    if errors := error_lines(result):
        parts.append("\n".join(f"- error: {line}" for line in errors))
    if result["server"] is not None:
        parts.append(markdown_table(*server_cells(result["server"])))
    if result["notes"]:
        parts.append("\n".join(f"- note: {note}" for note in result["notes"]))
    return "\n\n".join(parts)


def write_plot(result: dict, path: Path) -> Path:
    """Each request's latency at the time it started, one trace per endpoint (errors as crosses), above the server's
    resident memory; seconds count from the visitors' start, so the warm-up shows before 0. HTML with plotly.js
    embedded, so it opens offline."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["latency per request (s)", "server RSS with children (MiB)"])
    requests = result["samples"]["requests"]
    for endpoint in result["endpoints"]:
        for failed in (False, True):
            mine = [r for r in requests if r["endpoint"] == endpoint and (r["error"] is not None) == failed]
            if not mine:
                continue
            fig.add_trace(go.Scatter(
                x=[r["start_s"] for r in mine], y=[r["latency_s"] for r in mine], mode="markers",
                name=f"{endpoint} (errors)" if failed else endpoint, marker={"symbol": "x" if failed else "circle"},
                text=[r["variant"] + (f": {r['error']}" if r["error"] else "") for r in mine],
            ), row=1, col=1)
    samples = result["samples"]["server"]
    if samples:
        fig.add_trace(go.Scatter(x=[s[0] for s in samples], y=[s[1] / 2**20 for s in samples], mode="lines",
                                 name="RSS"), row=2, col=1)
    fig.update_xaxes(title_text="seconds since the visitors started", row=2, col=1)
    fig.update_layout(title=f"app-load: {result['visitors']} visitors, {result['minutes']:g} min", height=700)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True)
    return path
