"""`python -m modrwkv.bench`: output schema, memory formulas, plots and argument errors (no timing assertions)."""
from __future__ import annotations

import gc
import json
import sys
import weakref
from pathlib import Path

import pytest
import torch

from modrwkv.rwkv7.loading import compute_dtype, default_cpu_dtype, describe_dtype
from modrwkv.bench.__main__ import main
from modrwkv.bench.report import png_export_problem
from modrwkv.bench.shapes import shape_config
from modrwkv.rwkv7.loading import fp16_weights_supported

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
    from modrwkv.bench import __main__ as bench, rwkv_runner

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
    assert weight_bytes_per_token(shape_only_model(None, "tiny", "fp16", "cpu")) == weight_bytes_per_token(fp32) - 2 * halved


def test_int8_on_a_cpu_reads_its_loras_at_two_bytes_each() -> None:
    """The native step reads fp16 copies of the int8 model's fp32 LoRAs (which hold fp16 values)."""
    from modrwkv.rwkv7.model import LORA_NAMES
    from modrwkv.bench.rwkv_runner import shape_only_model, weight_bytes_per_token

    tensors = shape_only_model(None, "tiny", "int8", "cpu").state_dict()
    loras = sum(t.numel() for name, t in tensors.items() if name.rsplit(".", 1)[-1] in LORA_NAMES)
    stored = sum(t.nbytes for name, t in tensors.items() if name != "emb.weight") + tensors["emb.weight"][0].nbytes
    assert weight_bytes_per_token(shape_only_model(None, "tiny", "int8", "cpu")) == stored - 2 * loras


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp16"])
def test_memory_equals_formulas(capsys: pytest.CaptureFixture, dtype: str) -> None:
    shift = torch.empty(0, dtype=compute_dtype(dtype, "cpu")).element_size()  # fp16 on a CPU computes in fp32
    contexts, batches = (16, 64, 1024), (1, 3)
    out = run(capsys, "memory", "--shape", "tiny", "--dtype", dtype, "--contexts", "16,64,1024", "--batches", "1,3", "--json")
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


def test_the_header_says_what_the_format_computes_in_and_which_is_this_cpus_default(capsys: pytest.CaptureFixture) -> None:
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
