"""`python -m modrwkv.bench`: output schema, memory formulas, plots and argument errors (no timing assertions)."""
from __future__ import annotations

import gc
import json
import sys
import weakref
from pathlib import Path

import pytest
import torch

from modrwkv.bench.__main__ import main
from modrwkv.bench.report import png_export_problem
from modrwkv.bench.shapes import shape_config
from modrwkv.rwkv7.loading import compute_dtype, default_cpu_dtype, describe_dtype, fp16_weights_supported

# BlinkDL's rwkv package is TorchScript, which now warns on every scripted function
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")

TINY = shape_config("tiny")  # L2 C128: the hidden test shape; its Transformer follows it (2 layers, 1 KV head of 64)
KV_HEADS, HEAD_DIM = 1, 64


def rwkv_state_bytes(batch: int, shift_bytes: int = 4) -> int:
    """Token-shift vectors (model dtype) and fp32 WKV matrices of every layer: no term in the context length."""
    L, C, H, N = TINY.n_layer, TINY.n_embd, TINY.n_head, TINY.head_size
    return batch * L * (2 * C * shift_bytes + H * N * N * 4)


def kv_bytes(context: int, batch: int, element: int = 4) -> int:
    return 2 * TINY.n_layer * KV_HEADS * HEAD_DIM * context * batch * element


def run(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_compare_json_schema(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    plot = tmp_path / "compare.html"
    out = run(
        capsys, "compare", "--shape", "tiny", "--contexts", "16,32", "--batches", "1,2", "--decode-tokens", "2",
        "--json", "--plot", str(plot),
    )

    assert out["shape"] == "tiny" and out["dtype"] in ("fp32", "bf16", "fp16", "int8")
    assert out["bandwidth_gb_s"] > 0 and out["fp32_gflop_s"] > 0 and out["bf16_gflop_s"] > 0
    assert out["limits"]["prefill_tok_s"] > 0 and out["limits"]["decode_tok_s"] > 0
    assert isinstance(out["weight_bytes_per_token"], int) and out["weight_bytes_per_token"] > 0
    rows = {(r["system"], r["context"], r["batch"]): r for r in out["results"]}
    expected = {(s, c, b) for s in ("modrwkv", "transformer") for c in (16, 32) for b in (1, 2)}
    expected |= {("rwkv-pkg", c, 1) for c in (16, 32)}  # the rwkv package runs batch 1 only
    assert set(rows) == expected and len(out["results"]) == len(expected)
    for r in out["results"]:
        assert isinstance(r["context"], int) and isinstance(r["batch"], int) and isinstance(r["memory_bytes"], int)
        assert isinstance(r["prefill_tok_s"], float) and r["prefill_tok_s"] > 0
        assert isinstance(r["decode_tok_s"], float) and r["decode_tok_s"] > 0
    shift = torch.empty(0, dtype=compute_dtype(out["dtype"], "cpu")).element_size()  # shift states and KV cache
    for (system, context, batch), r in rows.items():
        if system == "transformer":  # the DynamicCache actually held after the prompt
            assert r["memory_bytes"] == kv_bytes(context, batch, shift)
        elif system == "rwkv-pkg":
            assert r["memory_bytes"] == rwkv_state_bytes(batch)
        else:
            assert r["memory_bytes"] == rwkv_state_bytes(batch, shift)
    assert "modrwkv B=2" in plot.read_text() and "rwkv-pkg B=1" in plot.read_text()


def test_rounds_measure_every_system_in_turn_and_keep_each_cells_fastest(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = []
    speeds = iter([100.0, 300.0, 250.0, 200.0])  # modrwkv, rwkv-pkg in round 1, then in round 2

    def spy(cls):  # the real measurement, its order recorded and its decode rate replaced by the next of `speeds`
        real = cls.measure

        def measure(self, context, batch, **kw):
            row = real(self, context, batch, **kw)
            order.append(row.system)
            row.decode_tok_s = next(speeds)
            return row
        monkeypatch.setattr(cls, "measure", measure)

    from modrwkv.bench import rwkv_pkg_runner, rwkv_runner
    spy(rwkv_runner.RWKVRunner)
    spy(rwkv_pkg_runner.RWKVPkgRunner)
    out = run(capsys, "compare", "--shape", "tiny", "--contexts", "16", "--decode-tokens", "2", "--rounds", "2",
              "--skip-transformer", "--json")

    assert order == ["modrwkv", "rwkv-pkg", "modrwkv", "rwkv-pkg"]
    assert {r["system"]: r["decode_tok_s"] for r in out["results"]} == {"modrwkv": 250.0, "rwkv-pkg": 300.0}


def test_rounds_measure_the_machine_in_each_round_and_keep_its_fastest(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modrwkv.bench import machine
    measures = iter([machine.MachinePerf(100.0, 400.0, 30.0), machine.MachinePerf(150.0, 350.0, 20.0),
                     machine.MachinePerf(90.0, 380.0, 55.0)])
    monkeypatch.setattr(machine, "measure_machine", lambda device: next(measures))
    out = run(capsys, "compare", "--shape", "tiny", "--contexts", "16", "--decode-tokens", "2", "--rounds", "3",
              "--skip-transformer", "--skip-rwkv-pkg", "--json")
    assert (out["fp32_gflop_s"], out["bf16_gflop_s"], out["bandwidth_gb_s"]) == (150.0, 400.0, 55.0)
    assert out["limits"]["decode_tok_s"] == pytest.approx(55e9 / out["weight_bytes_per_token"])


@pytest.mark.parametrize("rounds,alive", [(1, False), (2, True)])
def test_one_round_lets_each_model_go_before_the_next_is_loaded(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, rounds: int, alive: bool
) -> None:
    from modrwkv.bench import __main__ as bench
    from modrwkv.bench import rwkv_runner

    models, seen_alive = [], []
    real_init, real_load = rwkv_runner.RWKVRunner.__init__, bench.load_transformer

    def init(self, model, dtype):
        models.append(weakref.ref(model))
        real_init(self, model, dtype)

    def load(*args):
        gc.collect()
        seen_alive.append(models[0]() is not None)
        return real_load(*args)

    monkeypatch.setattr(rwkv_runner.RWKVRunner, "__init__", init)
    monkeypatch.setattr(bench, "load_transformer", load)
    run(capsys, "compare", "--shape", "tiny", "--contexts", "16", "--decode-tokens", "2", "--skip-rwkv-pkg",
        "--rounds", str(rounds), "--json")
    assert seen_alive == [alive]  # several rounds keep every model for the later rounds


def test_kernels_on_cpu_times_the_torch_paths_and_says_why_fla_is_absent(capsys: pytest.CaptureFixture) -> None:
    out = run(capsys, "kernels", "--shape", "tiny", "--device", "cpu", "--dtype", "fp32", "--contexts", "8,40",
              "--batches", "1,2", "--repeats", "1", "--json")

    assert (out["command"], out["device"], out["dtype"]) == ("kernels", "cpu", "fp32")
    assert [(r["system"], r["context"], r["batch"]) for r in out["results"]] == [
        ("modrwkv", c, b) for c in (8, 40) for b in (1, 2)
    ]
    for r in out["results"]:
        assert r["prefill_tok_s"] > 0 and r["decode_step_us"] > 0 and r["y_rel_rms"] is None
    assert out["notes"] == ["fla: skipped, its kernels need CUDA"]


def test_weight_bytes_per_token_is_every_weight_but_the_embedding_table() -> None:
    from modrwkv.bench.rwkv_runner import shape_only_model, weight_bytes_per_token

    model = shape_only_model(None, "tiny", "fp32")
    total = sum(p.numel() for p in model.parameters())
    embedding = TINY.vocab_size * TINY.n_embd
    assert weight_bytes_per_token(model) == 4 * (total - embedding + TINY.n_embd)


@pytest.mark.skipif(not fp16_weights_supported(), reason="fbgemm's fp16 kernel needs an x86 CPU with avx2")
def test_fp16_on_a_cpu_reads_its_matrices_and_its_loras_at_two_bytes_each() -> None:
    from modrwkv.bench.rwkv_runner import shape_only_model, weight_bytes_per_token

    fp32 = shape_only_model(None, "tiny", "fp32")
    # every matrix but the embedding table (one row read) and r_k ([H, N], a per-head vector kept in fp32)
    halved = sum(t.numel() for name, t in fp32.state_dict().items() if t.dim() == 2 and name != "emb.weight"
                 and not name.endswith(".r_k"))
    assert weight_bytes_per_token(shape_only_model(None, "tiny", "fp16", "cpu")) == (
        weight_bytes_per_token(fp32) - 2 * halved
    )


def test_int8_on_a_cpu_reads_its_loras_at_two_bytes_each() -> None:
    """The native step reads fp16 copies of the int8 model's fp32 LoRAs (which hold fp16 values)."""
    from modrwkv.bench.rwkv_runner import shape_only_model, weight_bytes_per_token
    from modrwkv.rwkv7.model import LORA_NAMES

    tensors = shape_only_model(None, "tiny", "int8", "cpu").state_dict()
    loras = sum(t.numel() for name, t in tensors.items() if name.rsplit(".", 1)[-1] in LORA_NAMES)
    stored = sum(t.nbytes for name, t in tensors.items() if name != "emb.weight") + tensors["emb.weight"][0].nbytes
    assert weight_bytes_per_token(shape_only_model(None, "tiny", "int8", "cpu")) == stored - 2 * loras


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp16"])
def test_memory_equals_formulas(capsys: pytest.CaptureFixture, dtype: str) -> None:
    shift = torch.empty(0, dtype=compute_dtype(dtype, "cpu")).element_size()  # fp16 on a CPU computes in fp32
    contexts, batches = (16, 64, 1024), (1, 3)
    out = run(
        capsys, "memory", "--shape", "tiny", "--dtype", dtype, "--contexts", "16,64,1024", "--batches", "1,3", "--json"
    )
    got = {(r["system"], r["context"], r["batch"]): r["memory_bytes"] for r in out["results"]}
    assert len(got) == 2 * len(contexts) * len(batches)
    for c in contexts:
        for b in batches:
            assert got["modrwkv", c, b] == rwkv_state_bytes(b, shift)  # the same at every context
            assert got["transformer", c, b] == kv_bytes(c, b, shift)  # linear in the context
    assert all(r["prefill_tok_s"] is None and r["decode_tok_s"] is None for r in out["results"])


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "int8"])
def test_memory_counts_the_weight_bytes_of_the_model_as_loaded_on_the_cpu(dtype: str) -> None:
    from modrwkv import RWKV7
    from modrwkv.bench.rwkv_runner import blinkdl_weights, shape_only_model, weight_bytes_per_token

    loaded = RWKV7.from_state_dict(blinkdl_weights(None, "tiny"), dtype=dtype)
    assert weight_bytes_per_token(shape_only_model(None, "tiny", dtype, "cpu")) == weight_bytes_per_token(loaded)


def test_the_header_says_what_the_format_computes_in_and_which_is_this_cpus_default(
    capsys: pytest.CaptureFixture,
) -> None:
    assert main(["memory", "--shape", "tiny", "--contexts", "16", "--dtype", "int8"]) == 0
    assert "dtype int8 (int8 matrices, fp32 math)\n" in capsys.readouterr().out
    assert main(["memory", "--shape", "tiny", "--contexts", "16"]) == 0
    default = default_cpu_dtype()
    assert f"dtype {default} ({describe_dtype(default, 'cpu')}; this CPU's default)" in capsys.readouterr().out


def test_plot_html_has_one_trace_per_system_and_batch(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    plot = tmp_path / "charts" / "memory.html"
    assert main(["memory", "--shape", "tiny", "--contexts", "16,32", "--batches", "1,2", "--plot", str(plot)]) == 0
    assert str(plot) in capsys.readouterr().out
    html = plot.read_text()
    for name in ("modrwkv B=1", "modrwkv B=2", "transformer B=1", "transformer B=2"):
        assert f'"name":"{name}"' in html
    assert '"type":"log"' in html


def test_a_png_plot_without_kaleido_is_refused_before_any_measuring(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if it were not installed
    assert main(["compare", "--shape", "tiny", "--plot", "chart.png"]) == 2
    err = capsys.readouterr().err
    assert "PNG export needs kaleido (pip install kaleido) and Chrome or Chromium; or use .html" in err
    assert "[modrwkv]" not in err  # nothing was measured


@pytest.mark.skipif(png_export_problem() is not None, reason=f"PNG export: {png_export_problem()}")
def test_plot_png_is_rendered_where_kaleido_and_chromium_are_installed(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    plot = tmp_path / "memory.png"
    assert main(["memory", "--shape", "tiny", "--contexts", "16,32", "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["memory", "--shape", "7b"], "unknown shape '7b'"),
        (["compare", "--contexts", "1024,abc"], "comma-separated positive integers"),
        (["prefill", "--contexts", "0"], "comma-separated positive integers"),
        (["decode", "--batches", ""], "comma-separated positive integers"),
        (["memory", "--plot", "chart.svg"], "--plot takes a .html or .png file"),
        (["prefill", "--dtype", "fp64"], "invalid choice: 'fp64'"),
        (["compare", "--shape", "tiny", "--model", "x.pth"], "not allowed with argument"),
        (["throughput"], "invalid choice: 'throughput'"),
        (["kernels", "--dtype", "int8"], "invalid choice: 'int8'"),
        (["decode", "--device", "gpu"], "expected a torch device such as cpu or cuda:0, got 'gpu'"),
    ],
)
def test_bad_flags_exit_with_a_clear_message(capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["decode", "--model", str(tmp_path / "missing.pth")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


# -- result files: --save and `table` --------------------------------------------------------------

TIMED = ["compare", "--shape", "tiny", "--contexts", "16,32", "--batches", "1,2", "--decode-tokens", "2",
         "--skip-transformer", "--skip-rwkv-pkg"]


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every row of the Markdown table in `text`, header and alignment rule included."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]


def test_save_writes_the_command_commit_date_machine_options_and_the_json_rows(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    import re
    from datetime import datetime

    path = tmp_path / "new" / "folder" / "run.json"  # its folders do not exist yet
    printed = run(capsys, *TIMED, "--json", "--save", str(path))
    saved = json.loads(path.read_text())

    assert saved["schema"] == "modrwkv.bench/result-1"
    assert saved["command_line"] == "python -m modrwkv.bench " + " ".join([*TIMED, "--json", "--save", str(path)])
    assert saved["result"] == printed  # the very object --json prints, rows and all
    assert [(r["system"], r["context"], r["batch"]) for r in saved["result"]["results"]] == [
        ("modrwkv", c, b) for c in (16, 32) for b in (1, 2)
    ]
    commit, dirty = saved["commit"], saved["dirty"]
    if commit != "unknown":  # the checkout the tests run from
        assert re.fullmatch("[0-9a-f]{4,40}", commit) and isinstance(dirty, bool)
    else:
        assert dirty is None
    datetime.strptime(saved["date"], "%Y-%m-%dT%H:%M:%SZ")
    m = saved["machine"]
    assert m["cpu"] and m["cores"] >= 1 and m["torch_version"] == torch.__version__ and m["device"] == "cpu"
    assert isinstance(m["avx512_bf16"], bool) and m["avx512_bf16"] == ("avx512_bf16" in m["cpu_flags"])
    assert m["memory_bytes"] > 0 and m["gpu"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    assert m["fp32_gflop_s"] == printed["fp32_gflop_s"] and m["read_gb_s"] == printed["bandwidth_gb_s"]  # measured
    opts = saved["options"]
    assert (opts["shape"], opts["contexts"], opts["batches"], opts["decode_tokens"]) == ("tiny", [16, 32], [1, 2], 2)
    assert opts["skip_rwkv_pkg"] is True and "save" not in opts and "json" not in opts


def test_save_without_json_prints_the_report_and_where_it_saved(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    path = tmp_path / "memory.json"
    assert main(["memory", "--shape", "tiny", "--contexts", "16", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"saved: {path}" and "{" not in out  # no JSON line without --json
    saved = json.loads(path.read_text())
    assert saved["result"]["command"] == "memory" and len(saved["result"]["results"]) == 2
    assert saved["machine"]["cpu"] and "fp32_gflop_s" not in saved["machine"]  # memory measures nothing


def test_command_line_is_quoted_as_a_shell_runs_it() -> None:
    from modrwkv.bench.results import command_line

    line = command_line(["decode", "--model", "my model.pth"])
    assert line == "python -m modrwkv.bench decode --model 'my model.pth'"


def test_commit_is_the_checkouts_short_hash_and_whether_tracked_files_changed(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from modrwkv.bench.results import git_commit

    assert git_commit(tmp_path) == ("unknown", None)  # not a git checkout
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("one")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True)
    head = head.stdout.strip()
    (tmp_path / "untracked.txt").write_text("new")
    assert git_commit(tmp_path) == (head, False)  # untracked files do not make it dirty, as `git describe --dirty`
    (tmp_path / "a.txt").write_text("two")
    assert git_commit(tmp_path) == (head, True)
    (tmp_path / "sub").mkdir()
    assert git_commit(tmp_path / "sub") == ("unknown", None)  # inside a checkout but not its top


def test_table_renders_a_saved_file_as_a_markdown_table_of_its_rows(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    from modrwkv.bench.report import human_bytes

    path = tmp_path / "compare.json"
    assert main([*TIMED, "--save", str(path)]) == 0
    capsys.readouterr()
    saved = json.loads(path.read_text())
    assert main(["table", str(path)]) == 0
    out = capsys.readouterr().out

    first = out.splitlines()[0]  # the command, the machine and the commit
    assert first.startswith(f"`{saved['command_line']}` | {saved['machine']['cpu']}, ")
    assert f"commit {saved['commit']}" in first and "GFLOP/s" in first
    header, rule, *body = markdown_rows(out)
    assert header == ["system", "dtype", "context", "batch", "prefill tok/s", "prefill ms/tok", "decode tok/s",
                      "decode ms/tok", "memory"]
    assert rule == [":---", ":---"] + ["---:"] * 7
    assert len(body) == len(saved["result"]["results"]) == 4
    for cells, r in zip(body, saved["result"]["results"]):  # the bench's own formats
        assert cells == [
            r["system"], r["dtype"], str(r["context"]), str(r["batch"]),
            f"{r['prefill_tok_s']:,.1f}", f"{1e3 * r['batch'] / r['prefill_tok_s']:.3f}",
            f"{r['decode_tok_s']:,.1f}", f"{1e3 * r['batch'] / r['decode_tok_s']:.2f}", human_bytes(r["memory_bytes"]),
        ]


def test_table_renders_each_file_with_the_columns_of_its_command(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    from modrwkv.bench.report import human_bytes

    memory, kernels = tmp_path / "memory.json", tmp_path / "kernels.json"
    assert main(["memory", "--shape", "tiny", "--contexts", "16,64", "--save", str(memory)]) == 0
    assert main(["kernels", "--shape", "tiny", "--device", "cpu", "--dtype", "fp32", "--contexts", "8", "--batches",
                 "1", "--repeats", "1", "--save", str(kernels)]) == 0
    capsys.readouterr()
    assert main(["table", str(memory), str(kernels)]) == 0
    out = capsys.readouterr().out

    heads = [line for line in out.splitlines() if line.startswith("`python -m modrwkv.bench ")]
    assert [h.split()[3] for h in heads] == ["memory", "kernels"]
    tables = out.split("`python -m modrwkv.bench ")[1:]
    mem_rows, kernel_rows = markdown_rows(tables[0]), markdown_rows(tables[1])
    saved = json.loads(memory.read_text())["result"]["results"]
    assert [r[:4] + r[-1:] for r in mem_rows[2:]] == [
        [r["system"], r["dtype"], str(r["context"]), str(r["batch"]), human_bytes(r["memory_bytes"])] for r in saved
    ]
    assert [r[:3] for r in mem_rows[2:]] == [[s, default_cpu_dtype() if s == "modrwkv" else mem_rows[3][1], c]
                                            for c in ("16", "64") for s in ("modrwkv", "transformer")]
    assert all(r[4:8] == ["-"] * 4 for r in mem_rows[2:])  # memory times nothing
    assert kernel_rows[0] == ["system", "dtype", "context", "batch", "prefill tok/s", "decode us/step", "y vs ours",
                              "state vs ours"]
    assert kernel_rows[2][:4] == ["modrwkv", "fp32", "8", "1"] and kernel_rows[2][6:] == ["-", "-"]
    assert "- note: fla: skipped, its kernels need CUDA" in tables[1]


def test_table_renders_a_saved_app_load_run_with_its_endpoints_and_server(capsys: pytest.CaptureFixture) -> None:
    path = Path(__file__).resolve().parents[1] / "results" / "cpu-app-load-32x10.json"
    result = json.loads(path.read_text())["result"]
    assert main(["table", str(path)]) == 0
    out = capsys.readouterr().out

    endpoints, server = out.split("\n\n")[2], out.split("\n\n")[3]
    chat = next(row for row in markdown_rows(endpoints) if row[0] == "/chat")
    assert chat[1:3] == [str(result["endpoints"]["/chat"]["requests"]), str(result["endpoints"]["/chat"]["served"])]
    assert chat[6] == f"{result['endpoints']['/chat']['latency_p95_s']:.2f}"
    assert [row[0] for row in markdown_rows(server)[2:]] == ["RSS (with children)", "open files", "uploads folder",
                                                            "downloads folder"]


def _a_result_file(tmp_path: Path) -> dict:
    path = tmp_path / "good.json"
    assert main(["memory", "--shape", "tiny", "--contexts", "16", "--save", str(path)]) == 0
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "edit,message",
    [
        (None, "cannot read it (No such file or directory)"),
        (lambda d: "{not json", "malformed result file: not JSON"),
        (lambda d: [], "not a result file of `python -m modrwkv.bench ... --save`"),
        (lambda d: d | {"schema": "other"}, "not a result file of"),
        (lambda d: {k: v for k, v in d.items() if k != "commit"}, "\"commit\" is missing"),
        (lambda d: d | {"result": {"command": "memory"}}, "no list of rows under \"results\""),
        (lambda d: d | {"result": d["result"] | {"results": [1]}}, "row 1 is not an object"),
        (lambda d: d | {"result": d["result"] | {"results": [{"system": "modrwkv"}]}}, "row 1 lacks dtype, context"),
        (lambda d: d | {"result": d["result"] | {"results": [d["result"]["results"][0] | {"context": "16"}]}},
         'row 1: context is "16", not int'),
        (lambda d: d | {"result": d["result"] | {"results": [d["result"]["results"][0] | {"speed": 1}]}},
         "row 1 has unknown field(s) speed"),
    ],
)
def test_table_of_a_missing_or_malformed_file_exits_with_a_message_naming_it(
    capsys: pytest.CaptureFixture, tmp_path: Path, edit, message: str
) -> None:
    good = tmp_path / "good.json"
    bad = tmp_path / "bad.json"
    if edit is not None:
        content = edit(_a_result_file(tmp_path))
        bad.write_text(content if isinstance(content, str) else json.dumps(content))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        main(["table", str(good), str(bad)] if edit is not None else ["table", str(bad)])
    assert str(exit.value.code).startswith(f"python -m modrwkv.bench table: error: {bad}: ")
    assert message in str(exit.value.code)
    assert capsys.readouterr().out == ""  # every file is checked before any table is printed


@pytest.mark.parametrize(
    "target,message",
    [("run.txt", "--save takes a .json file, got"), ("file.json/run.json", "is not a writable folder")],
)
def test_a_bad_save_path_is_refused_before_any_measuring(
    capsys: pytest.CaptureFixture, tmp_path: Path, target: str, message: str
) -> None:
    (tmp_path / "file.json").write_text("")
    assert main(["compare", "--shape", "tiny", "--save", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert message in err and "[modrwkv]" not in err


def test_serving_answers_the_same_tokens_one_at_a_time_and_through_the_scheduler(capsys: pytest.CaptureFixture,
                                                                                    tmp_path: Path) -> None:
    saved = tmp_path / "serving.json"
    assert main(["serving", "--shape", "tiny", "--conversations", "3", "--batch", "2", "--prompt-tokens", "5",
                 "--new-tokens", "4", "--dtype", "fp32", "--json", "--save", str(saved)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["same_answers"] == out["conversations"] == 3 and out["batch"] == 2
    for way in ("one_at_a_time", "scheduler"):
        r = out[way]
        assert r["tokens"] == 3 * 4 and r["tokens_per_second"] > 0
        assert 0 < r["first_token_p50_s"] <= r["first_token_p95_s"] <= r["seconds"]
    assert json.loads(saved.read_text())["result"]["speedup"] == out["speedup"]
