"""`python -m modrwkv.bench app-load`: the app under load, as several visitors use it at once.

Starts `python app.py` on a free 127.0.0.1 port (or uses a running app, --url), warms every endpoint up with one
request each, then lets --visitors sessions use it for --minutes (app_load_visitors.py). Prints per endpoint the
requests served, the errors by kind, latency percentiles and time to the first streamed update; and for the server
its memory and open files after the warm-up, at the end, at the peak and once the sessions have ended, with the
bytes and files of its upload and output folders (app_load_server.py).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from modrwkv.bench import app_load_report, app_load_server, machine, report, results
from modrwkv.bench.app_load_stats import ENDPOINTS, summarize
from modrwkv.bench.arguments import positive_int, shape_name

PROG = "python -m modrwkv.bench app-load"
HELP = "visitors using the app's endpoints at once: latency and errors per endpoint, the server's memory and disk"


def _number(text: str, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 if positive else value >= 0) or value == float("inf"):
        kind = "positive" if positive else "non-negative"
        raise argparse.ArgumentTypeError(f"expected a {kind} number, got '{text}'")
    return value


def app_url(text: str) -> str:
    """An argparse type: the app's address, ending in a slash."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected the app's address such as http://127.0.0.1:7860/, got '{text}'")
    return text if text.endswith("/") else text + "/"


def _html_path(text: str) -> Path:
    if Path(text).suffix.lower() != ".html":
        raise argparse.ArgumentTypeError(f"--plot takes a .html file, got '{text}'")
    return Path(text)


def _file_seconds(text: str) -> float:
    seconds = _number(text, True)
    if seconds < 10:
        raise argparse.ArgumentTypeError(f"--file-seconds must be at least 10, got '{text}'")
    return seconds


def _endpoints(text: str) -> tuple[str, ...]:
    chosen = tuple("/" + name.strip().lstrip("/") for name in text.split(",") if name.strip())
    if not chosen or any(e not in ENDPOINTS for e in chosen):
        raise argparse.ArgumentTypeError(f"--only takes endpoints of {', '.join(e[1:] for e in ENDPOINTS)}, got "
                                         f"'{text}'")
    return chosen


def add_parser(sub: argparse._SubParsersAction, save_path: Callable[[str], Path]) -> None:
    """Registers `app-load` in the bench's subcommands; `save_path` checks --save as the other commands do."""
    p = sub.add_parser("app-load", help=HELP, description=HELP)
    p.add_argument("--url", type=app_url, help="a running app; default: start `python app.py` on a free local port")
    p.add_argument("--visitors", type=positive_int, default=8, help="sessions at once (default %(default)s)")
    p.add_argument("--minutes", type=lambda t: _number(t, True), default=1.0,
                   help="how long the visitors keep asking (default %(default)s)")
    p.add_argument("--think", type=lambda t: _number(t, False), default=2.0, metavar="SECONDS",
                   help="mean think time between a visitor's requests, drawn from an exponential (default %(default)s)")
    p.add_argument("--settle", type=lambda t: _number(t, False), default=10.0, metavar="SECONDS",
                   help="wait this long after the sessions end before the last measure (default %(default)s)")
    p.add_argument("--file-seconds", type=_file_seconds, metavar="SECONDS",
                   help="the started app keeps visitors' files this long (its MODRWKV_FILE_SECONDS; default the "
                        "app's hour): with --settle beyond it plus the app's sweeps, the disk shows back at its start")
    p.add_argument("--batch", type=positive_int, metavar="N",
                   help="the started app decodes up to N conversations in one batched step (its MODRWKV_BATCH; 1: "
                        "one request at a time, to compare; default the app's own)")
    p.add_argument("--backbone", type=shape_name, metavar="SHAPE",
                   help="the started app serves the bundled chat and speech models with a random-weight backbone of "
                        "a published size (0.1b, 0.4b, ...): decoding as heavy as a real checkpoint's, answers that "
                        "mean nothing and run to their length limits (default: the bundled models)")
    p.add_argument("--only", type=_endpoints, metavar="ENDPOINT[,ENDPOINT]",
                   help=f"the visitors ask these endpoints only (of {', '.join(e[1:] for e in ENDPOINTS)}; "
                        "default all)")
    p.add_argument("--seed", type=int, default=0, help="the visitors' choices and think times (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.add_argument("--plot", type=_html_path, metavar="FILE.html",
                   help="plotly chart: latency over time per endpoint, and the server's memory over time")
    p.add_argument("--save", type=save_path, metavar="PATH.json",
                   help="write the --json object to this file with the command line, git commit, UTC date, machine "
                   "and options (its folder is created if needed; `table` renders the other commands' files only)")
    # the machine a saved result describes: `machine.describe` names its GPU, if any, whatever the device
    p.set_defaults(device="cpu")


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _figures(pid: int | None, folders: dict[str, Path]) -> tuple[dict | None, dict[str, dict]]:
    usage = {name: app_load_server.folder_usage(path) for name, path in folders.items()}
    return (app_load_server.process_figures(pid) if pid is not None else None), usage


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """The command; returns the exit code (2 with a message on stderr where the app cannot be reached or started)."""
    try:
        with ExitStack() as stack:
            result = _measure(args, stack)
    except app_load_server.ServerError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    print(app_load_report.text(result))
    if args.plot is not None:
        print(f"plot: {app_load_report.write_plot(result, args.plot)}")
    if args.save is not None:
        print(f"saved: {results.save(args.save, argv, args, result)}")
    if args.json:
        print(report.json_line(result))
    return 0


def _measure(args: argparse.Namespace, stack: ExitStack) -> dict:
    from gradio_client import Client  # here: the other bench commands need no HTTP client

    from modrwkv.bench import app_load_visitors as av

    notes: list[str] = []
    endpoints = args.only or tuple(ENDPOINTS)
    if args.url is not None:
        if args.file_seconds is not None or args.batch is not None or args.backbone is not None:
            raise app_load_server.ServerError("--file-seconds, --batch and --backbone set up an app the bench starts; "
                                              "a running app (--url) keeps its own settings and models")
        if (problem := app_load_server.answers(args.url)) is not None:
            raise app_load_server.ServerError(f"cannot reach --url {args.url}: {problem}")
        url, pid = args.url, app_load_server.local_pid(args.url)
        notes.append("--url: the folders are the server's own and may hold files of earlier runs")
    else:
        models = _models(args.backbone, endpoints, stack) if args.backbone is not None else []
        _progress("starting `python app.py` ...")
        started = stack.enter_context(app_load_server.started_app(file_seconds=args.file_seconds, batch=args.batch,
                                                                  models=models))
        url, pid = started.url, started.process.pid
    probe = Client(url, verbose=False, download_files=False)
    try:
        problems = av.api_problems(probe.view_api(return_format="dict", print_info=False))
    finally:
        probe.close()
    if problems:
        raise app_load_server.ServerError(f"the app at {url} is not the one this bench drives: {'; '.join(problems)}")
    if pid is None:
        notes.append("the server's process is not on this machine (or not visible): no memory or disk figures")
    folders = app_load_server.server_folders(pid) if pid is not None else {}
    clients_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="modrwkv-app-load-clients-")))
    long_audio = av.long_recording(clients_dir)

    moments: dict[str, tuple[dict | None, dict[str, dict]]] = {"start": _figures(pid, folders)}
    sampler = app_load_server.Sampler(pid) if pid is not None else None
    if sampler is not None:
        sampler.start()
        stack.callback(sampler.stop)

    _progress("warm-up: one request to each endpoint ...")
    warm = av.Visitor(-1, url, clients_dir, long_audio, random.Random(args.seed), time.monotonic())
    warm.connect()
    warmup = {}
    for endpoint, variant in [(e, v) for e, v in av.TOUR if e in endpoints]:
        req = warm.request(endpoint, variant)
        warmup[endpoint] = {"latency_s": req.latency_s, "error": req.error}
    warm.close()
    moments["warm"] = _figures(pid, folders)

    _progress(f"{args.visitors} visitors for {args.minutes:g} min ...")
    t0 = time.monotonic()
    visitors = [av.Visitor(i, url, clients_dir, long_audio, random.Random(args.seed * 1000 + i), t0, endpoints)
                for i in range(args.visitors)]
    av.run_visitors(visitors, t0 + args.minutes * 60, args.think)
    visit_seconds = time.monotonic() - t0
    moments["end"] = _figures(pid, folders)
    for v in visitors:
        v.close()
    _progress(f"sessions ended; settling {args.settle:g} s ...")
    time.sleep(args.settle)
    moments["settled"] = _figures(pid, folders)
    if sampler is not None:
        sampler.stop()

    requests = sorted((r for v in visitors for r in v.requests), key=lambda r: r.start_s)
    tokens = sum(r.tokens for r in requests if r.tokens is not None and r.error is None)
    return {
        "command": "app-load",
        "url": url,
        "started": args.url is None,
        "visitors": args.visitors,
        "minutes": args.minutes,
        "think_s": args.think,
        "settle_s": args.settle,
        "file_seconds": args.file_seconds,
        "seed": args.seed,
        "batch": args.batch,
        "backbone": args.backbone,
        "only": list(endpoints),
        "machine": machine.describe("cpu"),
        "visit_seconds": visit_seconds,
        "requests": len(requests),
        "tokens_per_second": tokens / visit_seconds,  # generated by the served chats and transcriptions
        "endpoints": summarize(requests, list(endpoints), [e for e, (_, s) in av.ENDPOINTS.items() if s]),
        "warmup": warmup,
        "connect_errors": [v.connect_error for v in visitors if v.connect_error],
        "server": None if pid is None else _server(pid, folders, moments, sampler),
        "samples": {
            "requests": [r.to_dict() for r in requests],
            "server": [[round(t - t0, 2), rss, fds] for t, rss, fds in (sampler.samples if sampler else [])],
        },
        "notes": notes,
    }


def _models(shape: str, endpoints: tuple[str, ...], stack: ExitStack) -> list[Path]:
    """The bundled models the visitors' endpoints use, with a `shape` backbone, in a folder removed after the run."""
    from modrwkv.bench import app_load_models

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="modrwkv-app-load-models-")))
    modalities = dict.fromkeys(app_load_models.MODALITIES[e] for e in endpoints if e in app_load_models.MODALITIES)
    _progress(f"writing the bundled {' and '.join(modalities)} models with a random {shape} backbone ...")
    return [app_load_models.with_backbone(app_load_models.bundled_for(m), shape, folder) for m in modalities]


def _server(pid: int, folders: dict[str, Path], moments: dict, sampler: app_load_server.Sampler | None) -> dict:
    """The server's figures at each moment: RSS and open files (and their peaks), and each folder's usage."""
    sampled = sampler.peak() if sampler is not None else {}

    def figure(key: str) -> dict[str, int | None]:
        at = {m: (f[0] or {}).get(key) for m, f in moments.items()}
        # the one-second samples can miss a moment's reading: the peak is at least every figure measured
        seen = [v for v in [*at.values(), sampled.get(key)] if v is not None]
        return at | {"peak": max(seen, default=None)}

    return {
        "pid": pid,
        "rss_bytes": figure("rss_bytes"),
        "open_files": figure("open_files"),
        "folders": {name: {"path": str(path)} | {m: f[1][name] for m, f in moments.items()}
                    for name, path in folders.items()},
    }
