"""Result files: what `--save` writes, and the Markdown tables `python -m modrwkv.bench table` makes of them.

A result file is one JSON object:

    schema        "modrwkv.bench/result-1"
    command_line  the command as run, "python -m modrwkv.bench compare --shape 0.1b ..."
    commit        short hash of the checkout the benchmark ran from, or "unknown" outside a git checkout
    dirty         whether tracked files differed from that commit (null where the commit is unknown)
    date          UTC, "2026-11-26T08:30:00Z"
    machine       `machine.describe` of the device, with the measured GEMM rates and bandwidth where measured
    options       the subcommand's options, as parsed (defaults filled in)
    result        the object `--json` prints: "command", ..., "notes" and the rows under "results"

so that the tables of docs/performance.md can be made again from the files rather than copied by hand.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from modrwkv.bench import app_load_report, machine, report, wkv_kernels
from modrwkv.bench.measurement import Measurement

SCHEMA = "modrwkv.bench/result-1"
PROG = "python -m modrwkv.bench"
REPO = Path(__file__).resolve().parents[2]  # the checkout this package runs from, where it is one
NOT_OPTIONS = ("command", "json", "save")  # how to report and where, not what was measured
APP_LOAD_KEYS = ("url", "started", "visitors", "minutes", "think_s", "settle_s", "seed", "visit_seconds", "requests",
                 "endpoints", "warmup", "connect_errors", "server", "notes")

Row = Measurement | wkv_kernels.KernelRow


# -- writing -------------------------------------------------------------------------------------


def command_line(argv: Sequence[str]) -> str:
    """The command as a shell would run it again."""
    return f"{PROG} {shlex.join(argv)}".rstrip()


def git_commit(root: Path = REPO) -> tuple[str, bool | None]:
    """(short hash, dirty) of the git checkout at `root`, or ("unknown", None) where `root` is not the top of one
    (no git, not a checkout, or a package installed inside some other repository). Dirty means tracked files differ
    from the commit, as `git describe --dirty` says; git is asked not to refresh the index (other work may share it)."""
    def git(*cmd: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *cmd], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        top, head = git("rev-parse", "--show-toplevel", "--short", "HEAD").splitlines()
        if Path(top).resolve() != root.resolve():
            return "unknown", None
        return head, bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, ValueError, subprocess.SubprocessError):
        return "unknown", None


def options(args: argparse.Namespace) -> dict:
    """The subcommand's options as parsed, JSON-ready."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in NOT_OPTIONS}


def record(argv: Sequence[str], args: argparse.Namespace, result: dict) -> dict:
    """The object a result file holds: `result` is the `--json` payload of the run."""
    commit, dirty = git_commit()
    return {
        "schema": SCHEMA,
        "command_line": command_line(argv),
        "commit": commit,
        "dirty": dirty,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine.describe(args.device) | result.get("machine", {}),  # with the measured rates, if any
        "options": options(args),
        "result": result,
    }


def save(path: Path, argv: Sequence[str], args: argparse.Namespace, result: dict) -> Path:
    """Writes the result file of this run to `path`, its folder created if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record(argv, args, result), indent=2) + "\n")
    return path


# -- reading -------------------------------------------------------------------------------------


@dataclass
class Saved:
    path: Path
    record: dict
    rows: list[Row]

    @property
    def command(self) -> str:
        return self.record["result"]["command"]


class _Malformed(Exception):
    pass


def _fits(value: object, kind: object) -> bool:
    if kind is type(None):
        return value is None
    if isinstance(value, bool):  # JSON true/false is no number
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(kind, type) and isinstance(value, kind)


def _row(cls: type, data: object, where: str) -> Row:
    """One saved row back as the dataclass the bench formats, every field present and of its type."""
    if not isinstance(data, dict):
        raise _Malformed(f"{where} is not an object")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    if missing := [n for n in names if n not in data]:
        raise _Malformed(f"{where} lacks {', '.join(missing)}")
    if extra := [k for k in data if k not in hints]:
        raise _Malformed(f"{where} has unknown field(s) {', '.join(map(str, extra))}")
    for name in names:
        kinds = typing.get_args(hints[name]) or (hints[name],)
        if not any(_fits(data[name], k) for k in kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise _Malformed(f"{where}: {name} is {json.dumps(data[name])}, not {wanted}")
    return cls(**data)


def _parse(text: str) -> tuple[dict, list[Row]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _Malformed(f"not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise _Malformed(f"not a result file of `{PROG} ... --save` (no \"schema\": \"{SCHEMA}\")")
    for key, kind in (("command_line", str), ("commit", str), ("date", str), ("machine", dict), ("result", dict)):
        if not isinstance(data.get(key), kind):
            raise _Malformed(f"\"{key}\" is missing or not a{'n object' if kind is dict else ' string'}")
    result = data["result"]
    if not isinstance(result.get("command"), str):
        raise _Malformed("\"result\" names no command")
    if result["command"] == "app-load":  # a load run: per-endpoint and server figures, no measurement rows
        missing = [k for k in APP_LOAD_KEYS if k not in result]
        if missing:
            raise _Malformed(f"the app-load result lacks {', '.join(missing)}")
        return data, []
    if not isinstance(result.get("results"), list):
        raise _Malformed("\"result\" has no list of rows under \"results\"")
    cls = wkv_kernels.KernelRow if result["command"] == "kernels" else Measurement
    return data, [_row(cls, r, f"row {i + 1}") for i, r in enumerate(result["results"])]


def load(path: Path) -> Saved:
    """A result file, checked; SystemExit with a message naming the file where it is missing or malformed."""
    try:
        text = path.read_text()
    except OSError as e:
        raise SystemExit(f"{PROG} table: error: {path}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise SystemExit(f"{PROG} table: error: {path}: not a result file (not UTF-8 text)") from None
    try:
        record, rows = _parse(text)
    except _Malformed as e:
        raise SystemExit(f"{PROG} table: error: {path}: malformed result file: {e}") from None
    return Saved(path, record, rows)


# -- rendering -----------------------------------------------------------------------------------


def _machine_text(m: dict) -> str:
    """The machine in a few words: CPU (and GPU), cores, the flags that matter, memory, torch, device, measures."""
    flags = m.get("cpu_flags")
    if flags is None and "avx512_bf16" in m:
        flags = ["avx512_bf16"] if m["avx512_bf16"] else ["no avx512_bf16"]
    parts = [
        f"{m.get('cores', '?')} cores ({m.get('torch_threads', '?')} torch threads)",
        " ".join(flags) if flags else None,
        report.human_bytes(m["memory_bytes"]) + " memory" if isinstance(m.get("memory_bytes"), int) else None,
        f"torch {m['torch_version']}" if m.get("torch_version") else None,
        f"device {m['device']}" if m.get("device") else None,
    ]
    text = f"{m.get('cpu', 'unknown machine')}, " + ", ".join(p for p in parts if p)
    if all(isinstance(m.get(k), (int, float)) for k in ("fp32_gflop_s", "bf16_gflop_s", "read_gb_s")):
        text += (f"; measured GEMM fp32 {m['fp32_gflop_s']:,.1f}, bf16 {m['bf16_gflop_s']:,.1f} GFLOP/s, "
                 f"read {m['read_gb_s']:,.1f} GB/s")
    return text


def headline(rec: dict) -> str:
    """One line naming the command, the machine and the commit (and the date) of a result file."""
    commit = rec["commit"] + (" (dirty)" if rec.get("dirty") else "")
    date = rec["date"].replace("T", " ").replace("Z", " UTC")
    return f"`{rec['command_line']}` | {_machine_text(rec['machine'])} | commit {commit} | {date}"


def render(saved: Saved) -> str:
    """The headline, then the Markdown table of the saved rows (the columns and formats the bench prints for that
    command), then the run's notes."""
    if saved.command == "app-load":
        return headline(saved.record) + "\n\n" + app_load_report.markdown(saved.record["result"])
    cells = wkv_kernels.cells if saved.command == "kernels" else report.cells
    notes = saved.record["result"].get("notes")
    notes = [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []
    text = headline(saved.record) + "\n\n" + report.markdown(*cells(saved.rows))
    return text + ("\n\n" + "\n".join(f"- note: {n}" for n in notes) if notes else "")
