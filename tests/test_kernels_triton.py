"""The Triton WKV-7 kernels, run on CPU by Triton's interpreter, against a float64 per-token loop written here.

The interpreter executes every block operation in numpy, one program at a time, so the sizes are the smallest that
still cover what matters: several chunks with a partial last one, two value blocks per head, two batches and heads.
On a GPU machine, `MODRWKV_TEST_DEVICE=cuda TRITON_INTERPRET=0 python -m pytest tests/test_kernels_triton.py` runs the
same checks on the compiled kernels (CI never does: it has no GPU).
"""
from __future__ import annotations

import os

DEVICE = os.environ.get("MODRWKV_TEST_DEVICE", "cpu")
if DEVICE == "cpu":
    # Must precede the first triton import anywhere: triton.jit picks interpreter or compiler when a kernel is defined.
    os.environ["TRITON_INTERPRET"] = "1"

import sys  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("triton")

from kernels import wkv7  # noqa: E402
from kernels.rwkv7 import dispatch  # noqa: E402
from kernels.rwkv7.triton_chunk import DOT, MAX_BACKWARD_CHUNK, launch_for, wkv7_triton_chunk  # noqa: E402
from kernels.rwkv7.triton_recurrent import wkv7_triton_recurrent  # noqa: E402
from tests.wkv_reference import B, H, N, make_inputs, reference, rel_rms  # noqa: E402

T = 37  # not a multiple of any chunk size: the last chunk is partial
FP32_TOL = 1e-5
# bf16/fp16 inputs: the chunked forward's products are plain TF32 (10 mantissa bits, see launch_for); 4.5e-4 from
# float64 at T = 2048 on an H200 (the interpreter computes in fp32 and stays near FP32_TOL)
HALF_STATE_TOL = 1e-3


def on_device(fn):
    """`fn` run on DEVICE with CPU tensors in and out (differentiably: gradients come back to the CPU leaves)."""
    def run(*args):
        return tuple(t.cpu() for t in fn(*(x.to(DEVICE) if isinstance(x, torch.Tensor) else x for x in args)))
    return run


recurrent = on_device(wkv7_triton_recurrent)
chunk = on_device(wkv7_triton_chunk)
PATHS = {
    "recurrent": recurrent,
    "chunk": chunk,  # the launch picked for these shapes
    "chunk16": on_device(lambda *args: wkv7_triton_chunk(*args, chunk_size=16)),
    "chunk64": on_device(lambda *args: wkv7_triton_chunk(*args, chunk_size=64)),
}


def random_mask(T: int) -> torch.Tensor:
    return torch.rand(B, T, generator=torch.Generator().manual_seed(6)) < 0.7


def grads(fn, inputs, dy, dS, mask=None):
    xs = [x.detach().requires_grad_() for x in inputs]
    y, S = fn(*xs, mask)
    return torch.autograd.grad((y * dy).sum() + (S * dS).sum(), xs)


def cotangents(seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, H, N, generator=g), torch.randn(B, H, N, N, generator=g)


@pytest.mark.parametrize("path", PATHS)
def test_forward_matches_float64_reference_in_fp32(path):
    inputs = make_inputs(T)
    before = inputs[6].clone()
    y_ref, S_ref = reference(*inputs)
    y, S = PATHS[path](*inputs)
    assert y.dtype == torch.float32 and y.shape == (B, T, H, N) and S.shape == (B, H, N, N)
    assert rel_rms(y, y_ref) <= FP32_TOL
    assert rel_rms(S, S_ref) <= FP32_TOL
    assert torch.equal(inputs[6], before)  # the input state is never written


def test_decode_kernel_matches_reference_and_skips_a_masked_row():
    inputs = make_inputs(1)
    y_ref, S_ref = reference(*inputs)
    y, S = recurrent(*inputs)
    assert rel_rms(y, y_ref) <= FP32_TOL
    assert rel_rms(S, S_ref) <= FP32_TOL
    _, S = recurrent(*inputs, torch.tensor([[False], [True]]))
    assert torch.equal(S[0], inputs[6][0])
    assert rel_rms(S[1], S_ref[1]) <= FP32_TOL


def test_decode_kernel_writes_the_new_state_into_out():
    inputs = [x.to(DEVICE) for x in make_inputs(1)]
    _, want = wkv7_triton_recurrent(*inputs)
    out = torch.full_like(inputs[6], float("nan"))
    _, S = wkv7_triton_recurrent(*inputs, None, out)
    assert S is out
    assert torch.equal(out, want)


@pytest.mark.parametrize("path", ["recurrent", "chunk16"])
def test_masked_steps_leave_the_state_untouched_even_with_nan_inputs(path):
    inputs = make_inputs(T, seed=5)
    mask = random_mask(T)
    y_ref, S_ref = reference(*inputs, mask)
    for i in (1, 2, 3, 4, 5):  # w, k, v, a, b: everything that could write into the state
        inputs[i] = inputs[i].masked_fill(~mask[:, :, None, None], float("nan"))
    y, S = PATHS[path](*inputs, mask)
    assert rel_rms(y[mask], y_ref[mask]) <= FP32_TOL
    assert rel_rms(S, S_ref) <= FP32_TOL
    # a fully masked sequence returns its initial state bit for bit
    _, S_none = PATHS[path](*inputs, torch.zeros(B, T, dtype=torch.bool))
    assert torch.equal(S_none, inputs[6])


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
def test_chunk_gradients_match_float64_autograd(masked):
    inputs = make_inputs(T, seed=2)
    mask = random_mask(T) if masked else None
    dy, dS = cotangents()
    ref = grads(reference, [x.double() for x in inputs], dy.double(), dS.double(), mask)
    got = grads(PATHS["chunk16"], inputs, dy, dS, mask)
    for name, g, g_ref in zip(["r", "w", "k", "v", "a", "b", "state"], got, ref):
        assert g.dtype == torch.float32
        assert rel_rms(g, g_ref) <= FP32_TOL, name


def test_bf16_inputs_stay_close_to_the_reference_with_fp32_state():
    *xs, state = make_inputs(T)
    xs = [x.bfloat16() for x in xs]
    y_ref, S_ref = reference(*xs, state)  # on the rounded inputs: what remains is the kernels' own error
    for path, state_tol in (("recurrent", FP32_TOL), ("chunk", HALF_STATE_TOL)):
        y, S = PATHS[path](*xs, state)
        assert y.dtype == torch.bfloat16 and S.dtype == torch.float32
        assert rel_rms(y, y_ref) <= 1e-2, path  # y is rounded to bf16 on store
        assert rel_rms(S, S_ref) <= state_tol, path
    y, S = recurrent(*(x[:, :1] for x in xs), state)
    y_ref, S_ref = reference(*(x[:, :1] for x in xs), state)
    assert rel_rms(y, y_ref) <= 1e-2 and rel_rms(S, S_ref) <= 1e-5
    dy, dS = cotangents()
    got = grads(chunk, [*xs, state], dy, dS)
    ref = grads(reference, [x.double() for x in (*xs, state)], dy.double(), dS.double())
    for name, g, g_ref, x in zip(["r", "w", "k", "v", "a", "b", "state"], got, ref, (*xs, state)):
        assert g.dtype == x.dtype
        assert rel_rms(g, g_ref) <= 1e-2, name


@pytest.mark.parametrize("grad", [False, True], ids=["inference", "training"])
def test_every_chunk_launch_keeps_fp32_products_for_fp32_inputs_and_a_backward_for_training(grad):
    for batch_heads in range(1, 513):
        assert launch_for(batch_heads, torch.float32, grad).precision == DOT
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            launch = launch_for(batch_heads, dtype, grad)
            assert launch.chunk in (16, 32, 64)
            assert not grad or launch.chunk <= MAX_BACKWARD_CHUNK


def test_chunk_without_a_backward_is_refused_for_training():
    xs = [x.to(DEVICE).requires_grad_() for x in make_inputs(T)]
    with pytest.raises(ValueError, match="chunk_size 64 has no backward"):
        wkv7_triton_chunk(*xs, chunk_size=64)


@pytest.fixture
def spied_triton(monkeypatch):
    """Force the Triton backend and record which Triton path each call takes."""
    monkeypatch.setenv("MODRWKV_WKV_BACKEND", "triton")
    recurrent, chunk = dispatch._triton_paths()
    calls = []

    def spy(name, fn):
        def wrapped(*args):
            calls.append(name)
            return fn(*args)
        return wrapped

    monkeypatch.setattr(dispatch, "_triton_paths", lambda: (spy("recurrent", recurrent), spy("chunk", chunk)))
    return calls


@pytest.mark.parametrize(("steps", "grad", "expected"), [
    (1, False, "recurrent"), (8, False, "recurrent"), (T, False, "chunk"), (8, True, "chunk"),
])
def test_dispatcher_routes_to_triton_by_length_and_to_the_chunk_for_training(spied_triton, steps, grad, expected):
    inputs = [x[:, :steps] for x in make_inputs(T)[:6]] + [make_inputs(T)[6]]
    inputs[0].requires_grad_(grad)
    y_ref, S_ref = reference(*inputs)
    y, S = on_device(wkv7)(*inputs)
    assert spied_triton == [expected]
    assert rel_rms(y.detach(), y_ref.detach()) <= FP32_TOL
    assert rel_rms(S.detach(), S_ref) <= FP32_TOL


def test_dispatcher_keeps_cpu_tensors_on_torch_unless_forced(monkeypatch, spied_triton):
    inputs = make_inputs(4)
    for backend in ("auto", "torch"):
        monkeypatch.setenv("MODRWKV_WKV_BACKEND", backend)
        wkv7(*inputs)
    assert spied_triton == []
    monkeypatch.setenv("MODRWKV_WKV_BACKEND", "cuda")
    with pytest.raises(ValueError, match="MODRWKV_WKV_BACKEND"):
        wkv7(*inputs)


def test_without_triton_auto_falls_back_and_forced_triton_says_why(monkeypatch):
    # None in sys.modules makes `import` raise ImportError, as on a machine without triton
    for name in ("triton", "kernels.rwkv7.triton_chunk", "kernels.rwkv7.triton_recurrent"):
        monkeypatch.setitem(sys.modules, name, None)
    dispatch._triton_paths.cache_clear()
    try:
        inputs = make_inputs(4)
        y_ref, _ = reference(*inputs)
        assert rel_rms(wkv7(*inputs)[0], y_ref) <= FP32_TOL
        monkeypatch.setenv("MODRWKV_WKV_BACKEND", "triton")
        with pytest.raises(RuntimeError, match="triton is not installed"):
            wkv7(*inputs)
    finally:
        dispatch._triton_paths.cache_clear()
