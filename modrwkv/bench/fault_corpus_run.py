"""`python -m modrwkv.bench fault-corpus`: the fault corpus (modrwkv/bench/fault_corpus.py) written to a folder and,
with --url or --serve, sent file by file through the app's API as a visitor sends it (gradio_client).

For each file it records the endpoint, what came back (the answer, transcript or forecast in brief, or the error the
client got), the seconds it took, and whether a normal request (the endpoint's bundled example) was served after it.
It judges each against the corpus's expectation: a correct result, or a refusal that names the file, says what it
expects, and shows none of the server's paths. The verdicts go to a Markdown table (--table) and JSON (--json).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modrwkv.bench import app_load_server
from modrwkv.bench.app_load import app_url
from modrwkv.bench.fault_corpus import (
    EXAMPLE_IMAGE,
    EXAMPLE_SPEECH,
    EXAMPLE_TABLE,
    Fault,
    corpus,
    left_out,
    write_corpus,
)

PROG = "python -m modrwkv.bench fault-corpus"
HELP = "the odd files visitors upload: write them (--out), and send each through the app (--url or --serve)"
QUESTION = "What shape is in the image?"
CHAT_TOKENS = 8  # enough for "circle"; a long answer only costs time
HORIZON = 4
REQUEST_SECONDS = 300.0  # a request unanswered after this long counts as a failure of the app
SHOWN_CHARACTERS = 300  # a table cell's longest text; the JSON keeps all of it
GRADIO_UPLOADS = "/tmp/gradio"  # Gradio's default upload folder: no message may show it


@dataclass
class Outcome:
    """What one file got from the app."""

    name: str
    endpoint: str
    what: str
    refused: bool
    text: str  # the result in brief, or the error message the client got
    seconds: float
    served_after: str | None  # None when the endpoint's example was served right after, else the error it got
    problems: list[str] = field(default_factory=list)  # where it differs from the corpus's expectation


# -- requests ------------------------------------------------------------------------------------


def _arguments(endpoint: str, path: Path, options: dict[str, object]) -> dict[str, Any]:
    from gradio_client import handle_file

    upload = handle_file(str(path))
    if endpoint == "/chat":
        base = {"image": upload, "message": QUESTION, "history": [], "temperature": 0, "top_p": 0.3,
                "max_new_tokens": CHAT_TOKENS}
    elif endpoint == "/transcribe":
        base = {"audio": upload}
    elif endpoint == "/forecast":
        base = {"path": upload, "target_col": "", "horizon": HORIZON, "timestamp_col": ""}
    else:
        raise ValueError(f"no fault corpus for the endpoint {endpoint}")
    return base | options


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    blocks = content if isinstance(content, list) else [content]
    return "".join(b.get("text", "") for b in blocks if isinstance(b, dict))


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def summary(endpoint: str, result: Any) -> str:
    """An endpoint's output in one line: the answer, the transcript, or the forecast's first and last times, its
    median at both and what was done to the rows."""
    if endpoint == "/chat":
        return f"answer: {_text(result[-1]).strip()!r}"
    if endpoint == "/transcribe":
        return f"transcript: {str(result[0]).strip()!r}"
    _, table, _, metrics = result
    headers, rows = table["headers"], table["data"]
    median = [float(row[headers.index("p50")]) for row in rows]
    # the back-test's sentence ends with the baseline's sMAPE ("...%."); what follows says what was done to the rows
    notes = metrics.partition("%.")[2].strip()
    line = f"{rows[0][0]} ... {rows[-1][0]}, median {_number(median[0])} ... {_number(median[-1])}"
    return f"{line}; {notes}" if notes else line


def ask(client: Any, endpoint: str, path: Path, options: dict[str, object] | None = None) -> tuple[bool, str]:
    """(refused, text): what the app gave `path` at `endpoint`, the result in brief or the error message."""
    try:
        job = client.submit(api_name=endpoint, **_arguments(endpoint, path, options or {}))
        result = job.result(timeout=REQUEST_SECONDS)
    except Exception as e:  # every refusal and failure is an outcome to record, whatever its type
        return True, str(e) or type(e).__name__
    return False, summary(endpoint, result)


EXAMPLES = {"/chat": EXAMPLE_IMAGE, "/transcribe": EXAMPLE_SPEECH, "/forecast": EXAMPLE_TABLE}


def served_after(client: Any, endpoint: str) -> str | None:
    """None when `endpoint` still serves its bundled example, else what it answered instead."""
    refused, text = ask(client, endpoint, EXAMPLES[endpoint])
    return text if refused else None


# -- verdicts ------------------------------------------------------------------------------------


def problems(fault: Fault, refused: bool, text: str, server_paths: list[str], served: str | None) -> list[str]:
    """How the app's response to `fault` differs from a correct result or a refusal naming the file (none: [])."""
    found = []
    if refused != fault.refused:
        found.append("refused, expected a result" if refused else "answered, expected a refusal")
    elif not re.search(fault.expect, text):
        found.append(f"does not match {fault.expect!r}")
    if refused and fault.name not in text:
        found.append("the message does not name the file")
    if leaked := [p for p in server_paths if p and p in text]:
        found.append(f"the text shows the server's path {leaked[0]}")
    if served is not None:
        found.append(f"the next request failed: {served}")
    return found


def drive(url: str, paths: dict[str, Path], faults: list[Fault], server_paths: list[str],
          progress: Callable[[str], None] = lambda _: None) -> list[Outcome]:
    """Sends each fault's file to its endpoint, then the endpoint's example; one session (client) for them all."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)
    outcomes = []
    try:
        for fault in faults:
            started = time.monotonic()
            refused, text = ask(client, fault.endpoint, paths[fault.name], fault.options)
            seconds = time.monotonic() - started
            served = served_after(client, fault.endpoint)
            outcome = Outcome(fault.name, fault.endpoint, fault.what, refused, text, seconds, served,
                              problems(fault, refused, text, server_paths, served))
            progress(f"{fault.name}: {'refused' if refused else 'answered'} in {seconds:.1f} s"
                     + (f"; PROBLEM: {'; '.join(outcome.problems)}" if outcome.problems else ""))
            outcomes.append(outcome)
    finally:
        client.close()
    return outcomes


# -- reports -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > SHOWN_CHARACTERS:
        text = text[: SHOWN_CHARACTERS - 3] + "..."
    return text.replace("|", "\\|")


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "files": len(outcomes),
        "answered": sum(not o.refused for o in outcomes),
        "refused": sum(o.refused for o in outcomes),
        "problems": sum(bool(o.problems) for o in outcomes),
        "next_request_failed": sum(o.served_after is not None for o in outcomes),
    }


def markdown(outcomes: list[Outcome], missing: dict[str, str], command: str) -> str:
    """The corpus's table: each file, its endpoint, what it got and in how long, and any problem; then what was left
    out and why."""
    n = counts(outcomes)
    lines = [
        f"Made by `{command}`: {n['files']} files, {n['answered']} answered, {n['refused']} refused; "
        f"{n['problems']} differ from what is expected; after {n['files'] - n['next_request_failed']} of them the "
        "endpoint's bundled example was served.",
        "",
        "| file | what it is | endpoint | result or message | s | as expected |",
        "|---|---|---|---|---:|---|",
    ]
    for o in outcomes:
        verdict = "yes" if not o.problems else "no: " + "; ".join(o.problems)
        text = ("refused: " if o.refused else "") + o.text
        lines.append(f"| `{o.name}` | {_cell(o.what)} | `{o.endpoint}` | {_cell(text)} | {o.seconds:.1f} | "
                     f"{_cell(verdict)} |")
    lines += ["", *(f"Left out: `{name}`: {why}." for name, why in missing.items())]
    return "\n".join(lines).rstrip() + "\n"


def report(outcomes: list[Outcome], missing: dict[str, str], url: str, command: str) -> dict:
    return {"command": command, "url": url, "counts": counts(outcomes), "left_out": missing,
            "files": [asdict(o) for o in outcomes]}


# -- the command ---------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Registers `fault-corpus` in the bench's subcommands."""
    p = sub.add_parser("fault-corpus", help=HELP, description=HELP)
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write the corpus into this folder (default with --url/--serve: a temporary one)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", type=app_url, help="send every file to the app running here")
    where.add_argument("--serve", action="store_true", help="start `python app.py` on a free local port and use it")
    p.add_argument("--only", type=lambda t: [n for n in t.split(",") if n], metavar="NAME[,NAME...]",
                   help="these files of the corpus only")
    p.add_argument("--table", type=Path, metavar="PATH.md", help="write the Markdown table of outcomes here")
    p.add_argument("--json", type=Path, metavar="PATH.json", help="write the outcomes as JSON here")


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _chosen(only: list[str] | None) -> list[Fault]:
    faults = corpus()
    if only is None:
        return faults
    if unknown := sorted(set(only) - {f.name for f in faults}):
        raise ValueError(f"not in the corpus: {', '.join(unknown)}; its files: {', '.join(f.name for f in faults)}")
    return [f for f in faults if f.name in only]


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """The command; returns the exit code: 0, 1 where a file's outcome is not the expected one, 2 for a usage error or
    an app that cannot be reached or started."""
    drives = args.url is not None or args.serve
    if not drives and (args.out is None or args.table or args.json):
        print(f"{PROG}: error: give --out DIR to write the corpus, and --url or --serve to drive it (with --table, "
              "--json)", file=sys.stderr)
        return 2
    try:
        faults = _chosen(args.only)
    except ValueError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        folder = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="modrwkv-fault-corpus-")))
        _progress(f"writing {len(faults)} files into {folder} ...")
        paths = write_corpus(folder, faults)
        if not drives:
            print("\n".join(str(p) for p in paths.values()))
            return 0
        try:
            url, server_paths = _app(args, stack)
        except app_load_server.ServerError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        outcomes = drive(url, paths, faults, [*server_paths, str(folder)], _progress)
    command = " ".join(["python -m modrwkv.bench", *argv])
    table = markdown(outcomes, left_out(), command)
    print(table)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table, encoding="utf-8")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report(outcomes, left_out(), url, command), indent=1), encoding="utf-8")
    return 1 if any(o.problems for o in outcomes) else 0


def _app(args: argparse.Namespace, stack: ExitStack) -> tuple[str, list[str]]:
    """The app's URL and the server's folders that no message may show."""
    if args.serve:
        _progress("starting `python app.py` ...")
        started = stack.enter_context(app_load_server.started_app())
        return started.url, [str(started.temp_dir), GRADIO_UPLOADS]
    if (problem := app_load_server.answers(args.url)) is not None:
        raise app_load_server.ServerError(f"cannot reach --url {args.url}: {problem}")
    pid = app_load_server.local_pid(args.url)
    folders = app_load_server.server_folders(pid) if pid is not None else {}
    return args.url, [*(str(p) for p in folders.values()), GRADIO_UPLOADS]
