"""The weight-only formats: int8 (8-bit matrices) and, on an x86 CPU, fp16 (fp16 matrices widened by fbgemm); both
keep fp32 arithmetic and state. Bounded logit error and the same greedy choices as fp32."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7
from modrwkv.cpu.linears import Fp16Linear
from modrwkv.rwkv7.loading import compute_dtype, fp16_weights_supported
from modrwkv.rwkv7.model import LORA_NAMES
from modrwkv.rwkv7.quantization import Int8Linear

needs_fbgemm = pytest.mark.skipif(
    not fp16_weights_supported(), reason="fbgemm's fp16 kernel needs an x86 CPU with avx2"
)

PROMPT = torch.randint(0, 65536, (1, 48), generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def fp32(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights)


@pytest.fixture(scope="module")
def int8(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights, dtype="int8")


@pytest.fixture(scope="module")
def fp16(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights, dtype="fp16")


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


@pytest.mark.parametrize("fmt", ["int8", pytest.param("fp16", marks=needs_fbgemm)])
def test_decode_steps_follow_the_fp32_greedy_path(fp32, fmt, request):
    model = request.getfixturevalue(fmt)
    tokens = PROMPT[:, :8]
    _, s32 = fp32(tokens)
    _, state = model(tokens)
    nxt = tokens[:, -1:]
    for _ in range(8):
        ref, s32 = fp32(nxt, s32)
        got, state = model(nxt, state)
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


@needs_fbgemm
def test_fp16_on_a_cpu_keeps_matrices_in_fp16_and_computes_in_fp32(fp16):
    weights = fp16.state_dict()
    assert weights["blocks.0.att.key.weight"].dtype == torch.float16 and weights["head.weight"].dtype == torch.float16
    assert weights["emb.weight"].dtype == torch.float32  # one row is read per token: nothing to gain
    logits, state = fp16(PROMPT[:, :4])
    assert logits.dtype == torch.float32 and state.att_shift.dtype == torch.float32 and state.wkv.dtype == torch.float32
    assert compute_dtype("fp16", "cpu") == torch.float32 and compute_dtype("fp16", "cuda") == torch.float16


@needs_fbgemm
def test_fp16_weights_give_fp32_logits_to_rounding(small_weights, fp32, fp16):
    """The only difference from fp32 is rounding the matrices (LoRAs included) to fp16, so an fp32 model holding
    those rounded matrices gives the same logits up to summation order."""
    def is_matrix(name: str, t: torch.Tensor) -> bool:  # r/k/v/output, the FFN, the head and the LoRAs; not emb
        lora = name.rsplit(".", 1)[-1] in LORA_NAMES
        return lora or (name.endswith(".weight") and t.dim() == 2 and name != "emb.weight")

    rounded = {k: v.half().float() if is_matrix(k, v) else v for k, v in small_weights.items()}
    ref, _ = RWKV7.from_state_dict(rounded)(PROMPT)
    got, _ = fp16(PROMPT)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3)
    exact, _ = fp32(PROMPT)
    assert ((got - exact).norm() / exact.norm()).item() < 0.02  # and rounding costs about what int8 does or less
    assert (got.argmax(-1) == exact.argmax(-1)).float().mean().item() >= 0.9


@needs_fbgemm
def test_an_fp16_model_saves_a_checkpoint_that_loads_back_the_same(fp16, tmp_path):
    again = RWKV7.from_pretrained(fp16.save_pretrained(tmp_path / "fp16"), dtype="fp16")
    a, _ = fp16(PROMPT[:, :16])
    b, _ = again(PROMPT[:, :16])
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@needs_fbgemm
def test_a_lora_beyond_the_fp16_range_is_refused_by_name(small_weights):
    weights = dict(small_weights)
    weights["blocks.1.att.g2"] = weights["blocks.1.att.g2"].clone()
    weights["blocks.1.att.g2"][0, 0] = 1e5
    with pytest.raises(ValueError, match="'blocks.1.att.g2' has values beyond fp16's range"):
        RWKV7.from_state_dict(weights, dtype="fp16")


@needs_fbgemm
def test_weights_beyond_the_fp16_range_are_refused_by_name():
    weight = torch.randn(8, 16)
    weight[3, 4] = 1e5
    with pytest.raises(ValueError, match="'blocks.2.ffn.key' has values beyond fp16's range"):
        Fp16Linear(weight, "blocks.2.ffn.key")
