"""RWKV7's state, batching, dtypes and embeddings input."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7, RWKVState

torch.manual_seed(0)
PROMPTS = [torch.randint(0, 65536, (n,)).tolist() for n in (70, 5, 33)]


@pytest.fixture(scope="module")
def model(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights)


def padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(map(len, prompts))
    tokens = torch.zeros(len(prompts), T, dtype=torch.long)
    for i, p in enumerate(prompts):
        tokens[i, : len(p)] = torch.tensor(p)
    return tokens, torch.tensor([len(p) for p in prompts])


def test_batch_of_different_lengths_gives_each_prompts_own_logits_and_state(model):
    tokens, lengths = padded(PROMPTS)
    logits, state = model(tokens, lengths=lengths)
    for i, p in enumerate(PROMPTS):
        alone, alone_state = model(torch.tensor([p]))
        torch.testing.assert_close(logits[i, : len(p)], alone[0], rtol=1e-5, atol=1e-4)
        one = state.select([i])
        for got, want in zip(
            (one.att_shift, one.ffn_shift, one.wkv), (alone_state.att_shift, alone_state.ffn_shift, alone_state.wkv)
        ):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_batched_continuation_after_padding_matches_each_alone(model):
    tokens, lengths = padded(PROMPTS)
    _, state = model(tokens, lengths=lengths)
    nxt = torch.tensor([[11], [22], [33]])
    logits, _ = model(nxt, state)
    for i, p in enumerate(PROMPTS):
        alone, _ = model(torch.tensor([p + [nxt[i, 0].item()]]), last_only=True)
        torch.testing.assert_close(logits[i, 0], alone[0, 0], rtol=1e-5, atol=1e-4)


def test_last_only_returns_the_last_valid_position_of_each_row(model):
    tokens, lengths = padded(PROMPTS)
    full, _ = model(tokens, lengths=lengths)
    last, _ = model(tokens, lengths=lengths, last_only=True)
    assert last.shape == (3, 1, 65536)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(last[i, 0], full[i, n - 1])


def test_state_size_does_not_grow_with_tokens(model):
    _, short = model(torch.tensor([PROMPTS[1]]))
    _, long = model(torch.tensor([PROMPTS[0] * 4]))
    cfg = model.config
    expected = cfg.n_layer * (2 * cfg.n_embd * 4 + cfg.n_head * cfg.head_size**2 * 4)
    assert short.nbytes == long.nbytes == expected


def test_input_state_is_left_untouched(model):
    _, state = model(torch.tensor([PROMPTS[1]]))
    before = state.clone()
    model(torch.tensor([PROMPTS[0]]), state)
    assert torch.equal(before.wkv, state.wkv) and torch.equal(before.att_shift, state.att_shift)


def test_cloned_state_continues_independently_and_identically(model):
    _, state = model(torch.tensor([PROMPTS[0]]))
    fork = state.clone()
    a, _ = model(torch.tensor([[42]]), state)
    b, _ = model(torch.tensor([[42]]), fork)
    assert torch.equal(a, b)
    fork.wkv.zero_()
    assert state.wkv.abs().sum() > 0


def test_forward_embeds_of_token_embeddings_equals_forward(model):
    tokens = torch.tensor([PROMPTS[2]])
    a, _ = model(tokens)
    b, _ = model.forward_embeds(model.emb(tokens))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_stays_close_to_fp32_with_fp32_state(small_weights, model, dtype):
    # unpacked: half-precision arithmetic throughout, as on a GPU (packed CPU fp16 keeps only its matrices in fp16)
    half = RWKV7.from_state_dict(small_weights, dtype=dtype, pack_weights=False)
    tokens = torch.tensor([PROMPTS[0][:40]])
    ref, _ = model(tokens)
    logits, state = half(tokens)
    assert state.wkv.dtype == torch.float32 and state.att_shift.dtype == dtype
    rel = ((logits.float() - ref).norm() / ref.norm()).item()
    assert rel < 0.05
    # the most likely next token is the same almost everywhere
    agree = (logits.float().argmax(-1) == ref.argmax(-1)).float().mean().item()
    assert agree > 0.9


def test_state_select_and_cat_rebuild_the_batch(model):
    tokens, lengths = padded(PROMPTS)
    _, state = model(tokens, lengths=lengths)
    rebuilt = RWKVState.cat([state.select([i]) for i in range(3)])
    assert torch.equal(rebuilt.wkv, state.wkv) and rebuilt.batch_size == 3


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m(torch.tensor([[1.5, 2.0]])), "integer tensor"),
        (lambda m: m(torch.tensor([[70000]])), "token id 70000"),
        (lambda m: m(torch.tensor([[1, 2]]), m.new_state(2)), "state holds 2 sequences"),
        (lambda m: m(torch.tensor([[1, 2]]), lengths=torch.tensor([3])), "lengths"),
        (lambda m: m.forward_embeds(torch.zeros(1, 4, 7)), "embeds must be"),
    ],
)
def test_bad_inputs_raise_specific_errors(model, call, message):
    with pytest.raises(ValueError, match=message):
        call(model)


def test_cpu_weight_packing_keeps_the_checkpoint_and_the_logits(small_weights, model):
    unpacked = RWKV7.from_state_dict(small_weights, pack_weights=False)
    sd = model.state_dict()
    assert all(torch.equal(sd[k], unpacked.state_dict()[k]) for k in sd)
    tokens = torch.tensor([PROMPTS[0]])
    for rows in (tokens[:, :1], tokens):  # one-row decode and a prefill-sized GEMM
        torch.testing.assert_close(model(rows)[0], unpacked(rows)[0], rtol=1e-5, atol=1e-4)
