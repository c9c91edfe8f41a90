"""fp16 decode on a CPU without the native kernels multiplies a time-mix layer's six mixes by its input matrices in two
merged products: the same numbers as the layer's separate matrices, and nothing added to the checkpoint."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7
from modrwkv.cpu.merged_projections import MAX_ROWS
from modrwkv.rwkv7.loading import fp16_weights_supported
from modrwkv.rwkv7.model import TimeMix

pytestmark = [
    pytest.mark.skipif(not fp16_weights_supported(), reason="fbgemm's fp16 kernel needs an x86 CPU with avx2"),
    pytest.mark.usefixtures("without_native_kernels"),
]
PROMPT = torch.randint(0, 65536, (1, 12), generator=torch.Generator().manual_seed(5))


def without_merging(model: RWKV7) -> RWKV7:
    for block in model.blocks:
        block.att.merged = None
    return model


def test_a_decode_step_through_merged_projections_gives_the_separate_matrices_numbers(small_weights):
    assert MAX_ROWS == 1  # one sequence, one token
    merged = RWKV7.from_state_dict(small_weights, dtype="fp16")
    separate = without_merging(RWKV7.from_state_dict(small_weights, dtype="fp16"))
    assert all(block.att.merged is not None for block in merged.blocks)
    with torch.inference_mode():
        _, state = separate(PROMPT[:, :-1])
        got, got_state = merged(PROMPT[:, -1:], state)
        want, want_state = separate(PROMPT[:, -1:], state)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    for part in ("att_shift", "ffn_shift", "wkv"):
        torch.testing.assert_close(getattr(got_state, part), getattr(want_state, part), rtol=1e-5, atol=1e-5)


def test_merged_projections_add_nothing_to_the_checkpoint(small_weights):
    model = RWKV7.from_state_dict(small_weights, dtype="fp16")
    assert set(model.state_dict()) == set(RWKV7.from_state_dict(small_weights, pack_weights=False).state_dict())


def test_models_for_training_compute_each_projection_by_itself(small_weights):
    """pack_weights=False keeps the model's own modules, which autograd differentiates."""
    model = RWKV7.from_state_dict(small_weights, dtype="fp16", pack_weights=False)
    assert all(type(block.att) is TimeMix for block in model.blocks)
