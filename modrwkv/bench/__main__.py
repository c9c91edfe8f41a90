"""`python -m modrwkv.bench {prefill,decode,memory,compare,kernels,table,app-load,serving,fault-corpus}`: RWKV-7
speed and memory, vs a Transformer; the app under load (`app-load`, modrwkv/bench/app_load.py); many conversations
one at a time vs the scheduler (`serving`, modrwkv/bench/serving.py); and the odd files visitors upload, sent
through the app (`fault-corpus`, modrwkv/bench/fault_corpus_run.py).

Each measuring subcommand prints the machine, a table and, with --json, one JSON object as the last line of stdout.
With --save PATH.json it also writes a result file: that JSON object with the command line, the git commit (and
whether the tree was dirty), the UTC date, the machine and the options (modrwkv/bench/results.py; the folder is
created if needed). `table RESULT.json [...]` prints each saved result as a Markdown table, preceded by a line
naming its command, machine and commit, so docs can be made again from the files:

    python -m modrwkv.bench compare --shape 0.1b --contexts 1024 --save results/cpu-compare-0.1b.json
    python -m modrwkv.bench table results/cpu-compare-0.1b.json

Progress and warnings go to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from modrwkv.bench import (
    app_load,
    fault_corpus_run,
    machine,
    report,
    results,
    rwkv_pkg_runner,
    serving,
    wkv_kernels,
)
from modrwkv.bench.arguments import positive_int, shape_name
from modrwkv.bench.measurement import Measurement, fastest
from modrwkv.bench.rwkv_runner import (
    RWKVRunner,
    blinkdl_weights,
    matmul_params_per_token,
    shape_only_model,
    weight_bytes_per_token,
)
from modrwkv.bench.shapes import shape_config, shape_names
from modrwkv.bench.transformer_runner import (
    TransformerRunner,
    baseline_shape,
    kv_cache_bytes,
    load_transformer,
)
from modrwkv.rwkv7 import loading
from modrwkv.rwkv7.checkpoint import CheckpointError
from modrwkv.rwkv7.model import RWKV7
from modrwkv.sources import SourceUnavailable

DEFAULT_CONTEXTS = "1024,2048,4096,8192,16384"
DEFAULT_SHAPE = "0.1b"
SAVE_HELP = ("write the --json object to this file with the command line, git commit, UTC date, machine and options "
             "(its folder is created if needed); `table` renders it")


# -- argument types ------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 1024,4096, got '{text}'")
    return values


def _device(text: str) -> str:
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected a torch device such as cpu or cuda:0, got '{text}'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"'{text}': no CUDA GPU is available to this torch build on this machine")
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"'{text}': the benchmarks run on cpu or cuda")
    return text


def _plot_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in report.PLOT_SUFFIXES:
        raise argparse.ArgumentTypeError(f"--plot takes a .html or .png file, got '{text}'")
    # checked before the benchmark runs, not after minutes of measuring
    if path.suffix.lower() == ".png" and (problem := report.png_export_problem()):
        raise argparse.ArgumentTypeError(f"PNG export {problem}; or use .html")
    return path


def _save_path(text: str) -> Path:
    """A result file to write: checked before the benchmark runs, not after minutes of measuring."""
    path = Path(text)
    if path.suffix.lower() != ".json":
        raise argparse.ArgumentTypeError(f"--save takes a .json file, got '{text}'")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a folder; --save takes a file such as results/run.json")
    folder = path.absolute().parent
    while not folder.exists():  # the nearest folder that exists: the missing ones are made in it
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write '{text}': '{folder}' is not a writable folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write '{text}': the file is read-only")
    return path


def _dtype_note(dtype: str, device: str) -> str:
    """What the weight format means on this device, and whether it is this CPU's default."""
    default = torch.device(device).type == "cpu" and dtype == loading.default_cpu_dtype()
    return loading.describe_dtype(dtype, device) + ("; this CPU's default" if default else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modrwkv.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {
        "prefill": "prompt tokens/s (last_only=True) at each context and batch",
        "decode": "generated tokens/s after a prompt of each context length",
        "memory": "bytes of RWKV state vs a Transformer KV cache (computed from shapes, no timing)",
        "compare": "prefill, decode and memory for modrwkv, BlinkDL's rwkv package and a Transformer",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        src = p.add_mutually_exclusive_group()
        src.add_argument("--model", metavar="SRC", help="checkpoint: file, folder or Hugging Face repo id")
        shapes = ", ".join(shape_names())
        src.add_argument(
            "--shape", type=shape_name, help=f"random weights of a named shape: {shapes} (default {DEFAULT_SHAPE})"
        )
        p.add_argument(
            "--contexts", type=_int_list, default=_int_list(DEFAULT_CONTEXTS), metavar="N,N",
            help=f"default {DEFAULT_CONTEXTS}",
        )
        p.add_argument("--batches", type=_int_list, default=[1], metavar="N,N", help="default 1")
        p.add_argument("--dtype", choices=list(loading.DTYPES), default=loading.default_cpu_dtype(),
                       help="default %(default)s: this CPU's default format (README, 'Loading a model'); int8 decodes "
                       "faster, its logits within 2%% of fp32's")
        p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
        p.add_argument("--save", type=_save_path, metavar="PATH.json", help=SAVE_HELP)
        p.add_argument("--plot", type=_plot_path, metavar="FILE.html|FILE.png",
                       help="plotly charts of latency and memory vs context (.png needs kaleido and Chrome/Chromium)")
        p.add_argument("--device", type=_device, default="cpu", help="default %(default)s")
        if name == "memory":
            continue
        p.add_argument(
            "--repeats", type=positive_int, default=1,
            help="timed runs per measurement, the fastest is kept (default 1)",
        )
        p.add_argument(
            "--rounds", type=positive_int, default=1,
            help="measure every system, context and batch this many times in turn, keeping each one's fastest: on a "
            "machine whose speed drifts, the ratios between systems then compare like with like (default 1)",
        )
        if name != "prefill":
            p.add_argument("--decode-tokens", type=positive_int, default=32, help="timed decode steps (default 32)")
        if name == "compare":
            p.add_argument("--skip-transformer", action="store_true")
            p.add_argument("--skip-rwkv-pkg", action="store_true")
    text = "the WKV-7 recurrence of one layer: this project's kernels beside flash-linear-attention's (on CUDA)"
    p = sub.add_parser("kernels", help=text, description=text)
    p.add_argument(
        "--shape", type=shape_name, default=DEFAULT_SHAPE,
        help="heads and head size of this shape (default %(default)s)",
    )
    p.add_argument("--contexts", type=_int_list, default=_int_list("1024,4096,16384"), metavar="N,N")
    p.add_argument("--batches", type=_int_list, default=[1, 8], metavar="N,N", help="default 1,8")
    p.add_argument(
        "--dtype", choices=["fp32", "bf16", "fp16"], default="bf16",
        help="inputs; the state is fp32 (default %(default)s)",
    )
    p.add_argument(
        "--device", type=_device, default="cuda" if torch.cuda.is_available() else "cpu", help="default %(default)s"
    )
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs on CPU, the median is kept (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.add_argument("--save", type=_save_path, metavar="PATH.json", help=SAVE_HELP)
    text = "Markdown tables of result files written by --save, each after a line naming its command, machine and commit"
    p = sub.add_parser("table", help=text, description=text)
    p.add_argument("files", nargs="+", type=Path, metavar="RESULT.json", help="result files written by --save")
    app_load.add_parser(sub, _save_path)
    serving.add_parser(sub, _save_path)
    fault_corpus_run.add_parser(sub)
    return parser


# -- runs ----------------------------------------------------------------------------------------


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _rates(row: Measurement) -> str:
    rates = [
        f"{name} {value:,.1f} tok/s"
        for name, value in (("prefill", row.prefill_tok_s), ("decode", row.decode_tok_s))
        if value is not None
    ]
    return ", ".join(rates)


Runner = RWKVRunner | rwkv_pkg_runner.RWKVPkgRunner | TransformerRunner


def _measure_all(
    systems: Iterator[tuple[Runner, list[int]]], args: argparse.Namespace, time_prefill: bool, time_decode: bool,
    between_rounds: Callable[[], None],
) -> list[Measurement]:
    """Every (system, context, batch) cell, `args.rounds` times over in turn, keeping each cell's fastest: drift of
    a shared machine over minutes then reaches every system alike, and the ratios between them hold. One round
    measures each system as it is built and lets it go; several keep them all for the later rounds.
    `between_rounds` runs before each round after the first (the machine's measure, taken again)."""
    best: dict[tuple[str, int, int], Measurement] = {}
    kept: list[tuple[Runner, list[int]]] = []
    for n in range(1, args.rounds + 1):
        if n > 1:
            between_rounds()
        for runner, batches in systems if n == 1 else kept:
            if args.rounds > 1 and n == 1:
                kept.append((runner, batches))
            for context in args.contexts:
                for batch in batches:
                    label = f"[{runner.system}] context {context}, batch {batch}"
                    if args.rounds > 1:
                        label += f" (round {n} of {args.rounds})"
                    _progress(label)
                    row = runner.measure(
                        context,
                        batch,
                        time_prefill=time_prefill,
                        time_decode=time_decode,
                        decode_tokens=getattr(args, "decode_tokens", 0),
                        repeats=args.repeats,
                    )
                    if args.rounds > 1:  # each round's figures, so the spread shows
                        _progress(f"{label}: {_rates(row)}")
                    key = (runner.system, context, batch)
                    best[key] = fastest(best[key], row) if key in best else row
            del runner  # before the next system is built
    return list(best.values())


def _timed_command(args: argparse.Namespace) -> tuple[dict, list[Measurement], list[str], str]:
    """Runs prefill/decode/compare: the JSON payload (without results), rows, notes and the header."""
    time_prefill = args.command in ("prefill", "compare")
    time_decode = args.command in ("decode", "compare")
    weights = blinkdl_weights(args.model, args.shape)
    model = RWKV7.from_state_dict(weights, dtype=args.dtype, device=args.device)
    info = machine.machine_info(args.device)
    perfs: list[machine.MachinePerf] = []

    def measure_machine() -> None:  # in every round: the machine drifts like the systems do
        _progress("measuring GEMM FLOP/s and read bandwidth ...")
        perfs.append(machine.measure_machine(args.device))

    measure_machine()
    model_figures = model.dtype, matmul_params_per_token(model), weight_bytes_per_token(model)
    notes: list[str] = []
    decode_step = "native" if model.fused_decoder is not None else "pytorch"
    if time_decode and model.device.type == "cpu":
        notes.append("modrwkv decode step: " + ("all layers in one native call (kernels/rwkv7/cpu_decode.c)"
                                               if decode_step == "native" else "PyTorch, operation by operation"))
    found: dict[str, str] = {}
    with contextlib.ExitStack() as cleanup:
        systems = _systems(model, weights, args, notes, found, cleanup)
        del model, weights  # the generator holds them only as long as it needs them
        rows = _measure_all(systems, args, time_prefill, time_decode, measure_machine)
    perf = machine.fastest_of(perfs)
    limits = machine.implied_limits(perf, *model_figures)
    payload = {
        "machine": info.to_dict() | perf.to_dict(),
        "fp32_gflop_s": perf.fp32_gflop_s,
        "bf16_gflop_s": perf.bf16_gflop_s,
        "bandwidth_gb_s": perf.read_gb_s,
        "weight_bytes_per_token": limits.weight_bytes_per_token,
        "limits": limits.to_dict(),
        "transformer": found.get("transformer"),
        "decode_step": decode_step,
    }
    return payload, rows, notes, report.header(info, args.dtype, perf, limits, _dtype_note(args.dtype, args.device))


def _systems(
    model: RWKV7, weights: dict[str, torch.Tensor], args: argparse.Namespace, notes: list[str], found: dict[str, str],
    cleanup: contextlib.ExitStack,
) -> Iterator[tuple[Runner, list[int]]]:
    """modrwkv, then for `compare` the package and the Transformer, each with the batches it runs. Each is built when
    the one before it has been measured, and each model is dropped here once handed on, so a single round holds one
    model at a time (a 2.9b comparison would not fit in memory with all three)."""
    yield RWKVRunner(model, args.dtype), args.batches
    del model
    if args.command == "compare" and not args.skip_rwkv_pkg:
        yield from _rwkv_pkg_runner(weights, args, notes, cleanup)
    del weights
    if args.command == "compare" and not args.skip_transformer:
        # the compute dtype: a Transformer has no weight-only path here (int8, and fp16 on a CPU, compute in fp32)
        dtype = loading.compute_dtype(args.dtype, args.device)
        tmodel, found["transformer"] = load_transformer(baseline_shape(args.shape), dtype, args.device)
        notes.append(
            f"transformer: {sum(p.numel() for p in tmodel.parameters()) / 1e6:.1f}M params, {found['transformer']}"
        )
        yield TransformerRunner(tmodel, loading.dtype_name(dtype)), args.batches


def _rwkv_pkg_runner(
    weights: dict[str, torch.Tensor], args: argparse.Namespace, notes: list[str], cleanup: contextlib.ExitStack
) -> list[tuple[Runner, list[int]]]:
    """BlinkDL's package on the same weights, batch 1 only; none (and a note saying why) where it cannot run."""
    if not rwkv_pkg_runner.available():
        notes.append("rwkv-pkg: skipped, the `rwkv` package is not installed")
        return []
    if args.batches != [1]:
        notes.append("rwkv-pkg: batch 1 only (the package has no batched inference); other batches skipped")
    if 1 not in args.batches:
        return []
    # the package memory-maps the file: the folder lives until every round is measured
    folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="modrwkv-bench-"))
    try:
        return [(rwkv_pkg_runner.RWKVPkgRunner(weights, Path(folder)), [1])]
    except RuntimeError as e:
        notes.append(f"rwkv-pkg: skipped, {e}")
        return []


def _memory_command(args: argparse.Namespace) -> tuple[dict, list[Measurement], list[str], str]:
    model = shape_only_model(args.model, args.shape, args.dtype, args.device)  # meta device: shapes and dtypes only
    tshape = baseline_shape(args.shape)
    dtype = loading.compute_dtype(args.dtype, args.device)  # the Transformer's, as `compare` runs it
    element_size = torch.empty(0, dtype=dtype).element_size()
    rows = []
    for context in args.contexts:
        for batch in args.batches:
            rows.append(Measurement("modrwkv", args.dtype, context, batch, None, None, model.new_state(batch).nbytes))
            kv = kv_cache_bytes(tshape, context, batch, element_size)
            rows.append(Measurement("transformer", loading.dtype_name(dtype), context, batch, None, None, kv))
    note = (
        f"transformer: {tshape.name} shape, KV cache = 2 x {tshape.layers} layers x {tshape.kv_heads} kv heads x "
        f"{tshape.head_dim} head dim x context x batch x {element_size} bytes"
    )
    payload = {"weight_bytes_per_token": weight_bytes_per_token(model), "transformer": tshape.name}
    info = machine.machine_info(args.device)
    return payload, rows, [note], report.header(info, args.dtype, None, None, _dtype_note(args.dtype, args.device))


COMMANDS: dict[str, Callable[[argparse.Namespace], tuple[dict, list[Measurement], list[str], str]]] = {
    "prefill": _timed_command,
    "decode": _timed_command,
    "compare": _timed_command,
    "memory": _memory_command,
}


def _kernels_command(args: argparse.Namespace) -> dict:
    """Measures and prints the kernels table; returns the --json payload."""
    config = shape_config(args.shape)
    dtype = loading.DTYPES[args.dtype]
    rows, notes = wkv_kernels.measure(
        args.contexts, args.batches, config.n_head, config.head_size, dtype, args.device, args.repeats
    )
    info = machine.machine_info(args.device)
    print(report.header(info, args.dtype, None, None))
    print(f"WKV-7 of one layer of {args.shape}: H={config.n_head}, N={config.head_size}, fp32 state")
    print()
    print(wkv_kernels.table(rows))
    for note in notes:
        print(f"note: {note}")
    meta = {"command": "kernels", "shape": args.shape, "dtype": args.dtype, "device": args.device}
    return meta | {"notes": notes, "results": [r.to_dict() for r in rows]}


def _table_command(args: argparse.Namespace) -> int:
    """Every file is read and checked before anything is printed: SystemExit naming the first bad one."""
    saved = [results.load(path) for path in args.files]
    print("\n\n".join(results.render(s) for s in saved))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; returns the exit code (2 for a usage error, printed by argparse). `table` raises SystemExit with a
    message naming the file where a result file is missing or malformed."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the message (or --help)
        return int(e.code or 0)
    if args.command == "table":
        return _table_command(args)
    if args.command == "app-load":
        return app_load.run(args, argv)
    if args.command == "serving":
        return serving.run(args, argv)
    if args.command == "fault-corpus":
        return fault_corpus_run.run(args, argv)
    if args.command == "kernels":
        return _emit(args, argv, _kernels_command(args))
    if args.model is None and args.shape is None:
        args.shape = DEFAULT_SHAPE
    try:
        payload, rows, notes, head = COMMANDS[args.command](args)
    except (FileNotFoundError, CheckpointError, SourceUnavailable) as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    print(head)
    print()
    print(report.table(rows))
    for note in notes:
        print(f"note: {note}")
    if args.plot is not None:
        title = f"{args.command}: {args.model or args.shape} ({args.dtype})"
        print(f"plot: {report.write_plot(rows, args.plot, title)}")
    meta = {"command": args.command, "shape": args.model or args.shape, "dtype": args.dtype}
    return _emit(args, argv, meta | payload | {"notes": notes, "results": [r.to_dict() for r in rows]})


def _emit(args: argparse.Namespace, argv: list[str], result: dict) -> int:
    """The run's --json object: written to the --save file, then printed as the last line of stdout with --json."""
    if args.save is not None:
        print(f"saved: {results.save(args.save, argv, args, result)}")
    if args.json:
        print(report.json_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
