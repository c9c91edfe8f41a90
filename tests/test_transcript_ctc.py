"""The auxiliary CTC loss of speech training: audio tokens are scored against the backbone's embedding rows of the
transcript's tokens, with token 0's row as the blank."""
from __future__ import annotations

import pytest
import torch

from modrwkv.multimodal.official import TURN_END_ID
from modrwkv.train.losses import ctc_classes, transcript_ctc

BLANK = 0


def test_the_classes_are_the_blank_then_each_answer_token_once_without_the_stop_token():
    classes = ctc_classes([[310, 57, 310, TURN_END_ID], [57, 4100, TURN_END_ID]])
    assert classes.tolist() == [BLANK, 57, 310, 4100]


def test_audio_tokens_spelling_the_transcript_score_far_better_than_the_same_tokens_shuffled():
    emb = torch.randn(5000, 32, generator=torch.Generator().manual_seed(0))
    answer = torch.tensor([310, 57, 57, 4100, TURN_END_ID])
    classes = ctc_classes([answer.tolist()])
    # blank, "310", "310", blank, "57", blank, "57", "4100", blank: CTC's spelling of 310 57 57 4100; any length works
    frames = torch.tensor([BLANK, 310, 310, BLANK, 57, BLANK, 57, 4100, BLANK])
    spelled = 3.0 * emb[frames]  # cosine scoring: the audio tokens' scale does not matter
    shuffled = spelled[torch.tensor([7, 2, 0, 4, 8, 1, 3, 6, 5])]
    good = transcript_ctc([spelled], [answer], classes, emb)
    bad = transcript_ctc([shuffled], [answer], classes, emb)
    assert good < 0.1 and bad > 10 * good


def test_a_token_outside_the_classes_is_refused():
    emb = torch.randn(500, 8)
    with pytest.raises(ValueError, match="not among the CTC classes"):
        transcript_ctc([torch.randn(6, 8)], [torch.tensor([12, 99])], ctc_classes([[12]]), emb)


def _ctc_over_every_class(embeds, answers, classes, emb):
    """The definition: CTC on the log-softmax over all the classes."""
    rows = torch.nn.functional.normalize(emb[classes], dim=-1)
    log_probs = [torch.log_softmax(10.0 * torch.nn.functional.normalize(e, dim=-1) @ rows.T, dim=-1) for e in embeds]
    lookup = {int(c): i for i, c in enumerate(classes)}
    labels = [torch.tensor([lookup[int(t)] for t in a if t != TURN_END_ID]) for a in answers]
    return torch.nn.functional.ctc_loss(
        torch.nn.utils.rnn.pad_sequence(log_probs), torch.cat(labels), torch.tensor([len(e) for e in embeds]),
        torch.tensor([len(label) for label in labels]), blank=BLANK, zero_infinity=True,
    )


def test_the_loss_and_its_gradients_equal_ctc_over_every_class():
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(3000, 16, generator=g)
    answers = [torch.tensor([17, 905, 17, 2210, TURN_END_ID]), torch.tensor([44, TURN_END_ID]),
               torch.tensor([905, 1200, 3, 9, 2999, 44, TURN_END_ID])]
    classes = ctc_classes([a.tolist() for a in answers] + [[5, 6, 7, 8, 2500]])
    grads = []
    for loss_fn in (transcript_ctc, _ctc_over_every_class):
        embeds = [torch.randn(n, 16, generator=torch.Generator().manual_seed(n)).requires_grad_() for n in (12, 5, 20)]
        table = emb.clone().requires_grad_()
        loss = loss_fn(embeds, answers, classes, table)
        loss.backward()
        grads.append((loss.detach(), table.grad, *[e.grad for e in embeds]))
    for ours, reference in zip(*grads):
        torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-6)
