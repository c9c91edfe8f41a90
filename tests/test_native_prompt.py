"""A prompt's element-wise time-mix work in C (token-shift mixes, the recurrence's inputs, the heads' gated output)
gives what PyTorch's operations give, to fp32 rounding, and a CPU model in fp32 uses it for prompts only where it
applies."""
from __future__ import annotations

import pytest
import torch

from kernels.rwkv7 import cpu_prompt
from modrwkv import RWKV7, RWKV7Config
from modrwkv.cpu.modules import usable
from modrwkv.generation.streaming import prefill
from modrwkv.rwkv7.model import GROUP_NORM_EPS
from modrwkv.rwkv7.random_weights import random_state_dict
from tests.eager_model import pytorch_ops

LIB = cpu_prompt.library()
pytestmark = pytest.mark.skipif(LIB is None, reason="the native kernels need an x86 CPU with avx2 and a C compiler")
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _random(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.fixture(scope="module")
def native_model(small_weights) -> RWKV7:
    model = RWKV7.from_state_dict(small_weights)
    assert model.blocks[0].att.native is not None and model.blocks[0].ffn.native is not None
    return model


@pytest.fixture(scope="module")
def torch_model(small_weights) -> RWKV7:
    return pytorch_ops(RWKV7.from_state_dict(small_weights))


def test_token_shift_mixes_each_token_with_the_one_before_it_and_the_first_with_the_carried_shift():
    x, shift, mixes = _random(2, 7, 128, seed=1), _random(2, 128, seed=2), torch.rand(6, 128)
    before = torch.cat((shift.unsqueeze(1), x[:, :-1]), dim=1)
    want = x + (before - x) * mixes[:, None, None, :]
    torch.testing.assert_close(cpu_prompt.token_shift(LIB, x, shift, mixes), want, **TOL)


def test_token_shift_reads_a_shift_kept_in_bf16_as_its_fp32_values():
    x, shift, mixes = _random(1, 3, 128, seed=3), _random(1, 128, seed=4).bfloat16(), torch.rand(1, 128)
    got = cpu_prompt.token_shift(LIB, x, shift, mixes)
    torch.testing.assert_close(got, cpu_prompt.token_shift(LIB, x, shift.float(), mixes), rtol=0, atol=0)


@pytest.mark.parametrize("layer", [0, 2])
def test_the_recurrences_inputs_match_pytorchs_operations(torch_model, layer):
    att = torch_model.blocks[layer].att
    w, k, v, a, v_first, v_lora = (_random(2, 5, 128, seed=10 + i) for i in range(6))
    want = att.kernel_inputs(w.clone(), k.clone(), v.clone(), a.clone(), v_first, v_lora if layer else None)
    later = layer > 0
    biases = (att.w0, att.a0, att.v0 if later else None)
    with torch.inference_mode():
        got = cpu_prompt.attention_inputs(
            LIB, att.n_head, biases, att.k_k, att.k_a, w, k, v, a, v_first if later else None, v_lora if later else None
        )
    for name, g, t in zip("wkvab", got, want):
        torch.testing.assert_close(g, t, **TOL, msg=lambda m, name=name: f"{name}: {m}")


def test_the_heads_gated_output_matches_pytorchs_operations(torch_model):
    att = torch_model.blocks[1].att
    H, N = att.n_head, att.head_size
    y, r, k, v, g = (_random(2, 5, H, N, seed=20 + i, scale=0.5) for i in range(5))
    norm = torch.nn.functional.group_norm(y.reshape(10, H * N), H, att.ln_x.weight, att.ln_x.bias, eps=GROUP_NORM_EPS)
    bonus = (r * k * att.r_k).sum(dim=-1, keepdim=True) * v
    want = (norm.view(2, 5, H, N) + bonus).view(2, 5, H * N) * g.view(2, 5, H * N)
    with torch.inference_mode():
        got = cpu_prompt.attention_output(
            LIB, att.ln_x.weight, att.ln_x.bias, att.r_k, y.clone(), r, k, v, g.view(2, 5, H * N)
        )
    torch.testing.assert_close(got, want.detach(), **TOL)


def test_a_padded_batch_of_prompts_gives_pytorchs_logits_and_states(native_model, torch_model):
    prompts = [torch.randint(0, 65536, (n,), generator=torch.Generator().manual_seed(n)) for n in (37, 5)]
    got, got_state = prefill(native_model, prompts)
    want, want_state = prefill(torch_model, prompts)
    torch.testing.assert_close(got, want, **TOL)
    for name in ("att_shift", "ffn_shift", "wkv"):
        torch.testing.assert_close(getattr(got_state, name), getattr(want_state, name), **TOL)


def test_a_model_taking_gradients_uses_pytorchs_operations(native_model):
    x = _random(1, 4, 128, seed=5)
    with torch.enable_grad():
        assert usable(native_model.blocks[0].att.native, x) is None
    with torch.inference_mode():
        assert usable(native_model.blocks[0].att.native, x) is not None


@pytest.mark.parametrize("head_size, dtype", [(12, "fp32"), (64, "bf16")])
def test_heads_not_eight_lanes_wide_and_bf16_activations_use_pytorchs_operations(head_size, dtype):
    config = RWKV7Config.shape(n_layer=1, n_embd=4 * head_size, head_size=head_size, vocab_size=256)
    model = RWKV7.from_state_dict(random_state_dict(config), dtype=dtype)
    assert model.blocks[0].att.native is None and model.blocks[0].ffn.native is None
