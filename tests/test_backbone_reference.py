"""RWKV7 against BlinkDL's `rwkv` package (RWKV_x070, cpu fp32) on the same random checkpoint."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7
from tests.fla_layout import save_fla_folder

PROMPT = torch.randint(0, 65536, (150,), generator=torch.Generator().manual_seed(7)).tolist()


def scaled_error(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """Max abs error relative to the logits' scale (their largest magnitude)."""
    return ((ours.float() - ref.float()).abs().max() / ref.abs().max()).item()


@pytest.fixture(scope="module")
def reference_logits(reference_model) -> torch.Tensor:
    logits, _ = reference_model.forward(PROMPT, None, full_output=True)
    return logits


@pytest.fixture(scope="module")
def model(blinkdl_pth) -> RWKV7:
    return RWKV7.from_pretrained(blinkdl_pth)


def test_whole_prompt_matches_reference(model, reference_logits):
    logits, _ = model(torch.tensor([PROMPT]))
    assert scaled_error(logits[0], reference_logits) <= 1e-4


def test_token_by_token_matches_reference(model, reference_model):
    ref_state, state, errors = None, None, []
    for t in PROMPT[:40]:
        ref, ref_state = reference_model.forward([t], ref_state)
        ours, state = model(torch.tensor([[t]]), state)
        errors.append(scaled_error(ours[0, 0], ref))
    assert max(errors) <= 1e-4


def test_prompt_in_pieces_with_state_carried_matches_reference(model, reference_logits):
    pieces, state, start = [], None, 0
    for size in (1, 17, 64, 3, 65):
        logits, state = model(torch.tensor([PROMPT[start : start + size]]), state)
        pieces.append(logits[0])
        start += size
    assert start == len(PROMPT)
    assert scaled_error(torch.cat(pieces), reference_logits) <= 1e-4


def test_fla_hf_layout_of_the_same_weights_matches_reference(tmp_path, small_weights, reference_logits):
    model = RWKV7.from_pretrained(save_fla_folder(small_weights, tmp_path / "rwkv7-fla"))
    logits, _ = model(torch.tensor([PROMPT]))
    assert scaled_error(logits[0], reference_logits) <= 1e-4


def test_safetensors_with_blinkdl_keys_round_trip(tmp_path, model, reference_logits):
    reloaded = RWKV7.from_pretrained(model.save_pretrained(tmp_path / "saved"))
    logits, _ = reloaded(torch.tensor([PROMPT]))
    assert scaled_error(logits[0], reference_logits) <= 1e-4
