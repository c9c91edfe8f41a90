"""Decode on a CPU multiplies a time-mix layer's six mixes by its input matrices in two merged products: the same
numbers as the layer's separate matrices, and nothing added to the checkpoint."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7
from modrwkv.cpu_linear import fp16_weights_supported
from modrwkv.merged_projections import MAX_ROWS

FORMATS = ["fp32", pytest.param("fp16", marks=pytest.mark.skipif(not fp16_weights_supported(), reason="needs fbgemm"))]
PROMPT = torch.randint(0, 65536, (2, 12), generator=torch.Generator().manual_seed(5))


def without_merging(model: RWKV7) -> RWKV7:
    for block in model.blocks:
        block.att.merged = None
    return model


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("batch, tokens", [(1, 1), (2, 1), (1, 2)])
def test_merged_projections_give_the_separate_matrices_numbers(small_weights, fmt, batch, tokens):
    assert batch * tokens <= MAX_ROWS
    merged = RWKV7.from_state_dict(small_weights, dtype=fmt)
    separate = without_merging(RWKV7.from_state_dict(small_weights, dtype=fmt))
    assert all(block.att.merged is not None for block in merged.blocks)
    with torch.inference_mode():
        _, state = separate(PROMPT[:batch])
        step = PROMPT[:batch, :tokens]
        got, got_state = merged(step, state)
        want, want_state = separate(step, state)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    for g, w in zip((got_state.att_shift, got_state.ffn_shift, got_state.wkv), (want_state.att_shift, want_state.ffn_shift, want_state.wkv)):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_merged_projections_add_nothing_to_the_checkpoint(small_weights, fmt):
    model = RWKV7.from_state_dict(small_weights, dtype=fmt)
    assert set(model.state_dict()) == set(RWKV7.from_state_dict(small_weights, pack_weights=False).state_dict())


def test_unpacked_models_compute_each_projection_by_itself(small_weights):
    """Training (pack_weights=False) keeps the plain layers autograd differentiates."""
    model = RWKV7.from_state_dict(small_weights, pack_weights=False)
    assert all(block.att.merged is None for block in model.blocks)
