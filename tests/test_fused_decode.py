"""fp16, bf16 and int8 decode on an x86 CPU run all layers of a one-token step in one native call: the eager step's
logits and state to fp32 rounding, for any batch, with the given state kept; where the kernels cannot be built,
decoding goes on eagerly."""
from __future__ import annotations

import logging

import pytest
import torch

from kernels.rwkv7 import cpu_decode
from modrwkv import RWKV7
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.loading import fp16_weights_supported
from modrwkv.rwkv7.model import LORA_NAMES
from modrwkv.rwkv7.quantization import Int8Linear
from modrwkv.rwkv7.random_weights import random_state_dict
from tests.eager_model import pytorch_ops
from tests.wkv_reference import rel_rms

pytestmark = pytest.mark.skipif(
    not fp16_weights_supported() or cpu_decode.library() is None,
    reason="the native decode step needs an x86 CPU with avx2 and a C compiler",
)
PROMPTS = torch.randint(0, 65536, (9, 9), generator=torch.Generator().manual_seed(11))


@pytest.fixture(scope="module")
def fused(small_weights) -> RWKV7:
    model = RWKV7.from_state_dict(small_weights, dtype="fp16")
    assert model.fused_decoder is not None
    return model


@pytest.fixture(scope="module")
def eager(small_weights) -> RWKV7:
    """The same fp16 matrices (fbgemm's), stepped by PyTorch."""
    return pytorch_ops(RWKV7.from_state_dict(small_weights, dtype="fp16"))


def assert_same_state(got, want) -> None:
    for part in ("att_shift", "ffn_shift", "wkv"):
        torch.testing.assert_close(getattr(got, part), getattr(want, part), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 2, 3, 6, 9])
def test_fused_steps_give_the_eager_steps_logits_and_state(fused, eager, batch):
    """Eight greedy steps after a prompt, at batches the kernel takes in groups of 2, 4 and 8 (9: a group of 8 and
    one sequence left over)."""
    with torch.inference_mode():
        _, state = eager(PROMPTS[:batch])
        fused_state, token = state, PROMPTS[:batch, -1:]
        for _ in range(8):
            got, fused_state = fused(token, fused_state)
            want, state = eager(token, state)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
            assert_same_state(fused_state, state)
            token = want[:, -1].argmax(-1, keepdim=True)


def test_a_fused_step_returns_hidden_states_for_task_heads(fused, eager):
    embeds = fused.emb(PROMPTS[:2, :1])
    with torch.inference_mode():
        got, _ = fused.forward_embeds(embeds, hidden=True)
        want, _ = eager.forward_embeds(embeds, hidden=True)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_fused_step_leaves_the_given_state_as_it_was(fused):
    with torch.inference_mode():
        _, state = fused(PROMPTS[:1])
        before = state.clone()
        fused(PROMPTS[:1, :1], state)
    assert_same_state(state, before)


def test_a_fused_model_saves_the_same_checkpoint(fused, eager):
    """The fused step's tiled copies are a layout, not weights."""
    mine, theirs = fused.state_dict(), eager.state_dict()
    assert set(mine) == set(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_a_vocabulary_that_does_not_tile_keeps_fbgemms_head_in_the_fused_step():
    """Tiles are 16 rows: a vocabulary of 250 leaves 10 over."""
    odd = RWKV7Config.shape(n_layer=2, n_embd=128, vocab_size=250)
    weights = random_state_dict(odd, seed=3)
    fused = RWKV7.from_state_dict(weights, dtype="fp16")
    eager = pytorch_ops(RWKV7.from_state_dict(weights, dtype="fp16"))
    assert fused.fused_decoder is not None
    with torch.inference_mode():
        got, _ = fused(torch.tensor([[7], [9]]))
        want, _ = eager(torch.tensor([[7], [9]]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_lora_ranks_that_do_not_tile_decode_eagerly():
    """The kernel reads matrices in tiles of 16 rows; a LoRA of rank 20 does not tile."""
    odd = RWKV7Config(vocab_size=256, n_embd=128, n_layer=2, n_head=2, head_size=64, dim_ffn=512, decay_rank=20,
                      a_rank=32, v_rank=32, gate_rank=32)
    model = RWKV7.from_state_dict(random_state_dict(odd, seed=2), dtype="fp16")
    assert model.fused_decoder is None
    with torch.inference_mode():
        logits, _ = model(torch.tensor([[1]]))
    assert torch.isfinite(logits).all()


def test_without_a_working_compiler_models_decode_with_pytorch(
    small_weights, fused, monkeypatch, tmp_path, caplog, fresh_native_build
):
    monkeypatch.setenv("MODRWKV_CACHE", str(tmp_path))  # nothing built yet
    monkeypatch.setenv("CC", "false")  # a "compiler" that fails
    with caplog.at_level(logging.WARNING, logger="kernels.rwkv7.build"):
        model = RWKV7.from_state_dict(small_weights, dtype="fp16")
    assert "native CPU kernels not built" in caplog.text
    assert model.fused_decoder is None and all(block.att.merged is not None for block in model.blocks)
    with torch.inference_mode():
        got, _ = model(PROMPTS[:1, :1])
        want, _ = fused(PROMPTS[:1, :1])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


@pytest.fixture(scope="module")
def bf16_pair(small_weights) -> tuple[RWKV7, RWKV7]:
    """A bf16 model (fused step) and an fp32 model holding the very same bf16-rounded weights (eager)."""
    rounded = {k: v.to(torch.bfloat16).float() for k, v in small_weights.items()}
    fused = RWKV7.from_state_dict(small_weights, dtype="bf16")
    assert fused.fused_decoder is not None
    return fused, pytorch_ops(RWKV7.from_state_dict(rounded))


def bf16_steps(bf16_pair, batch: int = 3):
    """(fused, fp32 reference) final hidden states and states of one step after a prompt."""
    fused, reference = bf16_pair
    with torch.inference_mode():
        _, state = reference(PROMPTS[:batch])
        embeds = reference.emb(PROMPTS[:batch, -1:])
        want, want_state = reference.forward_embeds(embeds, state, hidden=True)
        x, got_state = fused.fused_decoder(embeds[:, 0], state)
        ln = fused.ln_out
        got = torch.nn.functional.layer_norm(x, x.shape[-1:], ln.weight.float(), ln.bias.float(), ln.eps)
    return (got, got_state), (want[:, 0], want_state)


def bf16_pairs_built() -> bool:
    return cpu_decode.bf16_pairs(cpu_decode.library())


@pytest.mark.skipif(bf16_pairs_built(), reason="this CPU's build multiplies bf16 inputs (AVX512_BF16), tested below")
def test_a_bf16_fused_step_is_fp32_arithmetic_on_the_bf16_weights(bf16_pair):
    """bf16 on a CPU without AVX512_BF16 steps in fp32 (more accurate than bf16 activations): the fp32 model's hidden
    states and state."""
    (got, got_state), (want, want_state) = bf16_steps(bf16_pair)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert_same_state(got_state, want_state)


@pytest.mark.skipif(not bf16_pairs_built(), reason="needs a CPU with AVX512_BF16")
@pytest.mark.parametrize("batch", [1, 8])
def test_a_bf16_step_with_avx512_bf16_rounds_only_the_products_inputs(bf16_pair, batch):
    """With AVX512_BF16 each product takes bf16-rounded inputs, as the bf16 prompt's GEMMs do (summed in fp32; exact
    per product, see test_bf16_pair_products_are_exact_on_bf16_rounded_inputs): the fp32 step's hidden states and
    state to within that rounding (2.4e-3 and 1.2e-3 to 2.0e-3 measured)."""
    (got, got_state), (want, want_state) = bf16_steps(bf16_pair, batch)
    assert rel_rms(got, want) <= 5e-3
    for part in ("att_shift", "ffn_shift", "wkv"):
        assert rel_rms(getattr(got_state, part), getattr(want_state, part)) <= 5e-3, part


@pytest.mark.skipif(not bf16_pairs_built(), reason="needs a CPU with AVX512_BF16")
@pytest.mark.parametrize("batch", [1, 2, 3, 8, 9, 17])
def test_bf16_pair_products_are_exact_on_bf16_rounded_inputs(batch):
    """Pairs of columns for 1 to 17 sequences (a sequence alone, whole and partial groups of eight), with a column
    count (40) that is not a multiple of the 32 inputs rounded at a time."""
    lib, g = cpu_decode.library(), torch.Generator().manual_seed(3)
    for rows, K in ((768, 768), (64, 40), (48, 3072)):
        W = torch.randn(rows, K, generator=g).bfloat16()
        x = torch.randn(batch, K, generator=g)
        got = cpu_decode.matvec(lib, cpu_decode.tile(W, pairs=True), x)
        assert rel_rms(got, x.bfloat16().double() @ W.double().t()) <= 1e-6


def test_a_bf16_models_decode_keeps_its_dtypes(bf16_pair):
    fused, reference = bf16_pair
    with torch.inference_mode():
        _, state = fused(PROMPTS[:2])
        logits, new_state = fused(PROMPTS[:2, -1:], state)
        want, _ = reference(PROMPTS[:2, -1:], state)
    assert logits.dtype == torch.bfloat16 and new_state.att_shift.dtype == state.att_shift.dtype == torch.bfloat16
    assert new_state.wkv.dtype == torch.float32
    assert rel_rms(logits.float(), want) <= 1e-2  # bf16 logits (and, with AVX512_BF16, bf16 products' inputs)


@pytest.fixture(scope="module")
def int8_pair(small_weights) -> tuple[RWKV7, RWKV7]:
    """An int8 model (fused step) and an fp32 model computing eagerly with its dequantized matrices and LoRAs."""
    fused = RWKV7.from_state_dict(small_weights, dtype="int8")
    assert fused.fused_decoder is not None
    # its own copy: a model built from tensors of its dtype holds those very tensors, and the shared weights must
    # stay as they are for the tests that follow
    reference = RWKV7.from_state_dict({k: v.clone() for k, v in small_weights.items()}, pack_weights=False)
    with torch.no_grad():
        for name, module in fused.named_modules():
            if isinstance(module, Int8Linear):
                reference.get_submodule(name).weight.copy_(module.dequantized())
        for mine, theirs in zip(fused.blocks, reference.blocks):
            for lora in LORA_NAMES:
                if hasattr(mine.att, lora):
                    getattr(theirs.att, lora).copy_(getattr(mine.att, lora))  # rounded to fp16 values at load
    return fused, reference


@pytest.mark.parametrize("batch", [1, 3, 6])
def test_an_int8_fused_step_is_fp32_arithmetic_on_the_dequantized_weights(int8_pair, batch):
    fused, reference = int8_pair
    with torch.inference_mode():
        _, state = reference(PROMPTS[:batch])
        token = PROMPTS[:batch, -1:]
        got, got_state = fused(token, state)
        want, want_state = reference(token, state)
        got_hidden, _ = fused.forward_embeds(fused.emb(token), state, hidden=True)
        want_hidden, _ = reference.forward_embeds(reference.emb(token), state, hidden=True)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(got_hidden, want_hidden, rtol=1e-5, atol=1e-5)
    assert_same_state(got_state, want_state)
