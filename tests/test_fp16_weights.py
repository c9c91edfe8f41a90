"""fp16 weights on a CPU: matrices stored in fp16 and widened by fbgemm, fp32 arithmetic and state."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7
from modrwkv.backbone import compute_dtype
from modrwkv.cpu_linear import Fp16Linear, fp16_weights_supported

pytestmark = pytest.mark.skipif(not fp16_weights_supported(), reason="fbgemm's fp16 kernel needs an x86 CPU with avx2")

PROMPT = torch.randint(0, 65536, (1, 48), generator=torch.Generator().manual_seed(5))


@pytest.fixture(scope="module")
def fp32(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights)


@pytest.fixture(scope="module")
def fp16(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights, dtype="fp16")


def test_fp16_on_a_cpu_keeps_matrices_in_fp16_and_computes_in_fp32(fp16):
    weights = fp16.state_dict()
    assert weights["blocks.0.att.key.weight"].dtype == torch.float16 and weights["head.weight"].dtype == torch.float16
    assert weights["emb.weight"].dtype == torch.float32  # one row is read per token: nothing to gain
    logits, state = fp16(PROMPT[:, :4])
    assert logits.dtype == torch.float32 and state.att_shift.dtype == torch.float32 and state.wkv.dtype == torch.float32
    assert compute_dtype("fp16", "cpu") == torch.float32 and compute_dtype("fp16", "cuda") == torch.float16


def test_fp16_weights_give_fp32_logits_to_rounding(small_weights, fp32, fp16):
    """The only difference from fp32 is rounding the matrices to fp16, so an fp32 model holding those rounded
    matrices gives the same logits up to summation order."""
    def is_linear(name: str, t: torch.Tensor) -> bool:  # r/k/v/output, the FFN and the head; not LoRAs or emb
        return name.endswith(".weight") and t.dim() == 2 and name != "emb.weight"

    rounded = {k: v.half().float() if is_linear(k, v) else v for k, v in small_weights.items()}
    ref, _ = RWKV7.from_state_dict(rounded)(PROMPT)
    got, _ = fp16(PROMPT)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3)
    exact, _ = fp32(PROMPT)
    assert ((got - exact).norm() / exact.norm()).item() < 0.02  # and rounding costs about what int8 does or less
    assert (got.argmax(-1) == exact.argmax(-1)).float().mean().item() >= 0.9


def test_fp16_decode_steps_follow_the_fp32_greedy_path(fp32, fp16):
    tokens = PROMPT[:, :8]
    _, s32 = fp32(tokens)
    _, s16 = fp16(tokens)
    nxt = tokens[:, -1:]
    for _ in range(8):
        ref, s32 = fp32(nxt, s32)
        got, s16 = fp16(nxt, s16)
        assert int(got[0, 0].argmax()) in torch.topk(ref[0, 0], 3).indices.tolist()
        nxt = ref.argmax(-1)


def test_an_fp16_model_saves_a_checkpoint_that_loads_back_the_same(fp16, tmp_path):
    again = RWKV7.from_pretrained(fp16.save_pretrained(tmp_path / "fp16"), dtype="fp16")
    a, _ = fp16(PROMPT[:, :16])
    b, _ = again(PROMPT[:, :16])
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_weights_beyond_the_fp16_range_are_refused_by_name():
    weight = torch.randn(8, 16)
    weight[3, 4] = 1e5
    with pytest.raises(ValueError, match="'blocks.2.ffn.key' has values beyond fp16's range"):
        Fp16Linear(weight, "blocks.2.ffn.key")
