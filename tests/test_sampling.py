"""The sampler's arithmetic: the top-p cutoff equals a full sort's, and draws follow the kept probabilities."""
from __future__ import annotations

import pytest
import torch

from modrwkv.generation import sampling
from modrwkv.generation.sampling import NUCLEUS_CANDIDATES, draw, nucleus_cutoff

V = 65536


def full_sort_cutoff(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """top-p as written with a sort of the whole vocabulary (the definition the fast path must match)."""
    sorted_probs = probs.sort(dim=-1, descending=True).values
    at = (sorted_probs.cumsum(dim=-1) < top_p).sum(dim=-1, keepdim=True)
    return sorted_probs.gather(-1, at.clamp(max=probs.shape[-1] - 1))


@pytest.mark.parametrize("top_p", [0.3, 0.85, 0.99])
def test_nucleus_cutoff_equals_a_full_sort_at_every_stage(top_p):
    g = torch.Generator().manual_seed(0)
    # a confident row (its nucleus among the first candidates), one with ~600 likely tokens (the second candidates)
    # and a nearly flat one (the full sort)
    logits = torch.randn(3, V, generator=g) * 0.5
    logits[0, :5] += 20.0
    logits[1, :600] += 14.0
    probs = torch.softmax(logits, dim=-1)
    nucleus_sizes = (probs >= full_sort_cutoff(probs, top_p)).sum(-1).tolist()
    first, second = NUCLEUS_CANDIDATES
    assert nucleus_sizes[0] <= first < nucleus_sizes[1] <= second < nucleus_sizes[2]
    assert torch.equal(nucleus_cutoff(probs, top_p), full_sort_cutoff(probs, top_p))
    for row in range(3):  # alone, each row stops at its own stage
        assert torch.equal(nucleus_cutoff(probs[row : row + 1], top_p), full_sort_cutoff(probs[row : row + 1], top_p))


def test_draws_follow_the_probabilities_and_never_pick_a_zero():
    probs = torch.tensor([[0.0, 0.2, 0.0, 0.5, 0.3, 0.0]]).expand(20000, -1)
    picked = draw(probs, torch.Generator().manual_seed(1))
    freq = torch.bincount(picked, minlength=6).double() / len(picked)
    assert freq[[0, 2, 5]].sum() == 0
    assert torch.allclose(freq, probs[0].double(), atol=0.015)


def test_unnormalised_probabilities_are_drawn_in_proportion():
    picked = draw(torch.tensor([[2.0, 6.0]]).expand(20000, -1), torch.Generator().manual_seed(2))
    assert abs(picked.double().mean().item() - 0.75) < 0.015


def test_a_draw_at_the_very_top_of_the_running_sum_takes_the_last_token_with_probability(monkeypatch):
    # rand() * total can round up to the total itself: past every token; the last one with probability is meant
    monkeypatch.setattr(sampling.torch, "rand", lambda *shape, **kw: torch.ones(*shape, dtype=kw.get("dtype")))
    assert draw(torch.tensor([[0.1, 0.6, 0.3, 0.0, 0.0]])).tolist() == [2]
