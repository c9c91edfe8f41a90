"""The CPU WKV-7 paths (torch, and the C recurrence) against a float64 per-token loop of the defining formula, written
here independently."""
from __future__ import annotations

import pytest
import torch

from kernels import wkv7
from kernels.rwkv7 import cpu_recurrence
from kernels.rwkv7.torch_chunk import wkv7_chunk
from kernels.rwkv7.torch_recurrent import wkv7_recurrent, wkv7_step
from tests.wkv_reference import B, H, N, assert_matches_reference, make_inputs, reference, rel_rms

FP32_TOL = 1e-5


def native(*args):  # noqa: ANN001, ANN201
    lib = cpu_recurrence.library()
    if lib is None:
        pytest.skip("the C recurrence needs a C compiler with OpenMP")
    return cpu_recurrence.wkv7_native(lib, *args)


MULTI_TOKEN_PATHS = {
    "native": native,
    "recurrent": wkv7_recurrent,
    "chunk": wkv7_chunk,
    "chunk16": lambda *args: wkv7_chunk(*args, chunk_size=16),
    "chunk64": lambda *args: wkv7_chunk(*args, chunk_size=64),
    "dispatch": wkv7,
}


@pytest.mark.parametrize("T", [37, 100])
@pytest.mark.parametrize("path", MULTI_TOKEN_PATHS)
def test_multi_token_paths_match_float64_reference_in_fp32(path, T):
    inputs = make_inputs(T)
    y, S = MULTI_TOKEN_PATHS[path](*inputs)
    assert y.dtype == torch.float32 and y.shape == (B, T, H, N)
    assert_matches_reference((y, S), inputs)


@pytest.mark.parametrize("step", [wkv7_step, wkv7], ids=["single_step", "dispatch"])
def test_single_token_matches_float64_reference_in_fp32(step):
    inputs = make_inputs(1)
    y, S = step(*inputs)
    assert y.shape == (B, 1, H, N)
    assert_matches_reference((y, S), inputs)


@pytest.mark.parametrize("T", [2, 15, 16, 40])
def test_dispatcher_matches_reference_on_both_sides_of_the_chunk_threshold(T, monkeypatch):
    monkeypatch.setenv("MODRWKV_WKV_BACKEND", "torch")
    inputs = make_inputs(T, seed=3)
    assert_matches_reference(wkv7(*inputs), inputs)


@pytest.mark.parametrize("path", MULTI_TOKEN_PATHS)
def test_right_padding_changes_neither_final_state_nor_valid_outputs(path):
    T, pad = 37, 11
    short = make_inputs(T)
    garbage = make_inputs(pad, seed=9)
    padded = [torch.cat((x, g), dim=1) for x, g in zip(short[:6], garbage[:6])] + [short[6]]
    mask = torch.arange(T + pad).expand(B, -1) < T
    y_short, S_short = MULTI_TOKEN_PATHS[path](*short)
    y_pad, S_pad = MULTI_TOKEN_PATHS[path](*padded, mask)
    assert torch.isfinite(y_pad).all()
    torch.testing.assert_close(y_pad[:, :T], y_short, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(S_pad, S_short, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("path", MULTI_TOKEN_PATHS)
def test_masked_steps_anywhere_are_skipped(path):
    T = 50
    inputs = make_inputs(T, seed=5)
    mask = torch.rand(B, T, generator=torch.Generator().manual_seed(6)) < 0.7
    y_ref, S_ref = reference(*inputs, mask)
    y, S = MULTI_TOKEN_PATHS[path](*inputs, mask)
    assert rel_rms(y[mask], y_ref[mask]) <= FP32_TOL
    assert rel_rms(S, S_ref) <= FP32_TOL


@pytest.mark.parametrize("step", [wkv7_step, native], ids=["single_step", "native"])
def test_single_step_with_mask_false_returns_the_state_unchanged(step):
    inputs = make_inputs(1)
    mask = torch.tensor([[False], [True]])
    y, S = step(*inputs, mask)
    assert_matches_reference((y, S), inputs, mask)
    assert torch.equal(S[0], inputs[6][0])
    assert not torch.equal(S[1], inputs[6][1])


@pytest.mark.parametrize("split", [1, 9, 40])
def test_two_pieces_with_carried_state_equal_one_call(split):
    T = 100
    *xs, state = make_inputs(T)
    y_all, S_all = wkv7(*xs, state)
    y1, S1 = wkv7(*(x[:, :split] for x in xs), state)
    y2, S2 = wkv7(*(x[:, split:] for x in xs), S1)
    torch.testing.assert_close(torch.cat((y1, y2), dim=1), y_all, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(S2, S_all, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("T", [1, 8, 100])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_stay_close_to_fp32_reference_with_fp32_state(dtype, T):
    *xs, state = make_inputs(T)
    y_ref, S_ref = reference(*xs, state)
    y, S = wkv7(*(x.to(dtype) for x in xs), state)
    assert y.dtype == dtype and S.dtype == torch.float32
    assert rel_rms(y, y_ref) <= 2e-2
    assert rel_rms(S, S_ref) <= 2e-2


@pytest.mark.parametrize("path", [*MULTI_TOKEN_PATHS, "single_step"])
def test_input_state_is_not_modified(path):
    fn = wkv7_step if path == "single_step" else MULTI_TOKEN_PATHS[path]
    inputs = make_inputs(1 if path == "single_step" else 37)
    before = inputs[6].clone()
    _, S = fn(*inputs)
    assert torch.equal(inputs[6], before)
    assert S.data_ptr() != inputs[6].data_ptr()


@pytest.mark.parametrize("path", [*(p for p in MULTI_TOKEN_PATHS if p != "native"), "single_step"])
def test_gradients_match_float64_reference(path):
    """With gradients the dispatcher takes the torch paths (the C recurrence is for inference)."""
    fn = wkv7_step if path == "single_step" else MULTI_TOKEN_PATHS[path]
    inputs = make_inputs(1 if path == "single_step" else 37)
    g = torch.Generator().manual_seed(7)
    dy, dS = torch.randn(inputs[0].shape, generator=g), torch.randn(inputs[6].shape, generator=g)

    def grads(f, xs):
        xs = [x.detach().requires_grad_() for x in xs]
        y, S = f(*xs)
        return torch.autograd.grad((y * dy).sum() + (S * dS).sum(), xs)

    ref_grads = grads(reference, [x.double() for x in inputs])
    for name, got, ref in zip(["r", "w", "k", "v", "a", "b", "state"], grads(fn, inputs), ref_grads):
        assert rel_rms(got, ref) <= 1e-4, name


@pytest.mark.parametrize("T", [1, 5, 37])  # the in-place step, the token loop, the chunks
def test_out_receives_the_new_state_that_a_plain_call_returns(T):
    inputs = make_inputs(T)
    y_want, S_want = wkv7(*inputs)
    out = torch.full_like(inputs[6], float("nan"))
    y, S = wkv7(*inputs, out=out)
    assert S is out
    assert torch.equal(out, S_want)
    assert torch.equal(y, y_want)


def test_c_recurrence_decays_match_reference_where_sigmoid_saturates():
    inputs = make_inputs(40, seed=11)
    saturating = torch.rand(inputs[1].shape, generator=torch.Generator().manual_seed(12)) < 0.5
    inputs[1] = inputs[1] + torch.where(saturating, -40.0, 40.0)
    assert_matches_reference(native(*inputs), inputs)


def _head_size_8(T: int) -> list[torch.Tensor]:
    *inputs, S = make_inputs(T, seed=13)
    return [x[..., :8] for x in inputs] + [S[..., :8, :8].contiguous()]


def test_head_sizes_the_c_recurrence_does_not_take_go_to_torch():
    inputs = _head_size_8(20)
    assert_matches_reference(wkv7(*inputs), inputs)


def test_forcing_the_c_recurrence_on_a_head_size_it_does_not_take_says_so(monkeypatch):
    monkeypatch.setenv("MODRWKV_WKV_BACKEND", "native")
    with pytest.raises(RuntimeError, match="head size 8 .a multiple of 16 only"):
        wkv7(*_head_size_8(3))


def test_forcing_the_c_recurrence_where_it_cannot_be_built_says_why(monkeypatch, fresh_native_build):
    monkeypatch.setenv("MODRWKV_WKV_BACKEND", "native")
    monkeypatch.setenv("MODRWKV_NATIVE", "0")
    with pytest.raises(RuntimeError, match="MODRWKV_WKV_BACKEND=native but the C kernel could not be built"):
        wkv7(*make_inputs(3))


def _bad_cases():
    r, w, k, v, a, b, S = make_inputs(4)
    mask = torch.ones(B, 4, dtype=torch.bool)
    return {
        "r_not_4d": ((r[0], w, k, v, a, b, S), "r must be"),
        "k_shape_differs": ((r, w, k[:, :, :, :32], v, a, b, S), "k must match r"),
        "state_wrong_shape": ((r, w, k, v, a, b, S[:, :, :32]), "state must be"),
        "state_not_fp32": ((r, w, k, v, a, b, S.bfloat16()), "state must be float32"),
        "integer_input": ((r, w, k, v.long(), a, b, S), "v must be float32, bfloat16 or float16"),
        "mask_wrong_shape": ((r, w, k, v, a, b, S, mask[:, :3]), "mask must be"),
        "mask_not_bool": ((r, w, k, v, a, b, S, mask.float()), "mask must be bool"),
        "no_tokens": ((r[:, :0], w[:, :0], k[:, :0], v[:, :0], a[:, :0], b[:, :0], S), "T >= 1"),
        "out_wrong_shape": ((r, w, k, v, a, b, S, None, S[:1].clone()), "out must be a contiguous float32 tensor"),
        "out_not_contiguous": ((r, w, k, v, a, b, S, None, S.mT.contiguous().mT), "out must be a contiguous"),
        "out_is_the_state": ((r, w, k, v, a, b, S, None, S), "out must not be the input state"),
        "out_with_gradients": (
            (r.requires_grad_(), w, k, v, a, b, S, None, torch.empty_like(S)), "out is for inference"
        ),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_inputs_raise_value_error_naming_the_problem(case):
    args, message = _bad_cases()[case]
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        wkv7(*args)
