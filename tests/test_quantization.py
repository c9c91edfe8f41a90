"""8-bit weight-only quantisation: bounded logit error and the same greedy choices as fp32."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7
from modrwkv.quantization import Int8Linear

PROMPT = torch.randint(0, 65536, (1, 48), generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def fp32(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights)


@pytest.fixture(scope="module")
def int8(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights, dtype="int8")


def test_int8_keeps_the_logit_error_small(fp32, int8):
    ref, _ = fp32(PROMPT)
    got, state = int8(PROMPT)
    assert state.wkv.dtype == torch.float32 and got.dtype == torch.float32
    assert ((got - ref).norm() / ref.norm()).item() < 0.02


def test_int8_makes_nearly_the_same_greedy_choices_as_fp32(fp32, int8):
    """A random model has near-ties a trained one rarely has: int8's choice must be fp32's, or a close runner-up."""
    ref, _ = fp32(PROMPT)
    got, _ = int8(PROMPT)
    choice = got.argmax(-1, keepdim=True)
    assert (choice == ref.topk(3, dim=-1).indices).any(-1).all()
    assert (choice[..., 0] == ref.argmax(-1)).float().mean().item() >= 0.85


def test_int8_decode_steps_follow_the_fp32_greedy_path(fp32, int8):
    tokens = PROMPT[:, :8]
    _, s32 = fp32(tokens)
    _, s8 = int8(tokens)
    nxt = tokens[:, -1:]
    for _ in range(8):
        ref, s32 = fp32(nxt, s32)
        got, s8 = int8(nxt, s8)
        assert int(got[0, 0].argmax()) in torch.topk(ref[0, 0], 3).indices.tolist()
        nxt = ref.argmax(-1)


def test_small_and_large_batches_compute_the_same_product():
    torch.manual_seed(0)
    layer = Int8Linear(torch.randn(96, 64))
    x = torch.randn(40, 64)
    exact = x @ layer.dequantized().t()
    few = torch.cat([layer(x[i : i + 4]) for i in range(0, 40, 4)])  # weight-streaming int8 kernel
    many = layer(x)  # dequantised GEMM
    torch.testing.assert_close(many, exact, rtol=1e-5, atol=1e-4)
    assert ((few - exact).norm() / exact.norm()).item() < 1e-2  # bf16 inputs to the int8 kernel


def test_an_int8_model_cannot_be_saved_as_a_checkpoint(int8, tmp_path):
    with pytest.raises(ValueError, match="int8"):
        int8.save_pretrained(tmp_path)
