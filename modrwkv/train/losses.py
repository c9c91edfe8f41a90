"""The loss of one batch, as nn.Modules around ModRWKV so that accelerate / DDP can wrap them.

Text: next-token cross-entropy on answer tokens only; the vocabulary head runs only at those positions, so prompt,
modality and padding positions cost no head matmul and receive no gradient from the loss.
Audio transcripts may add an auxiliary CTC loss on the adapter's tokens (`transcript_ctc`).
Series: the forecasting head on the last hidden state, pinball (quantile) loss against the normalised target.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from modrwkv.forecast.head import quantile_loss
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import TURN_END_ID
from modrwkv.rwkv7.model import RWKV7
from modrwkv.train.samples import IGNORE_INDEX

CTC_BLANK_ID = 0  # the World vocabulary's end-of-text token, which no transcript contains: its embedding row is blank
NO_PROBABILITY = -1e4  # a logit whose probability is exactly 0 in fp32
KEPT_MARGIN = 1e-6  # the kept classes' probability is capped below 1, where log(1 - p) has no gradient
CTC_SCALE = 10.0  # cosine similarities scaled to logits: a matching row can then outweigh hundreds of others


def answer_loss(llm: RWKV7, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens: hidden [B, T, C] (ln_out's output), targets [B, T] (IGNORE_INDEX
    where there is nothing to learn)."""
    keep = targets != IGNORE_INDEX
    logits = llm.head(hidden[keep])
    return F.cross_entropy(logits.float(), targets[keep])


def ctc_classes(answers: Sequence[Sequence[int]]) -> torch.Tensor:
    """The CTC classes of `transcript_ctc`: the blank id, then every token id the answers hold (sorted)."""
    tokens = {t for answer in answers for t in answer} - {CTC_BLANK_ID, TURN_END_ID}
    return torch.tensor([CTC_BLANK_ID, *sorted(tokens)])


def transcript_ctc(
    embeds: Sequence[torch.Tensor], answers: Sequence[torch.Tensor], classes: torch.Tensor, emb: torch.Tensor
) -> torch.Tensor:
    """CTC loss of each clip's audio tokens (adapter output [L, C]) against its transcript tokens.

    Attention-free ASR learns slowly from the next-token loss alone: the words must pass through the recurrent state
    before any gradient says which audio token held them. CTC tells each audio token directly which word it hears.
    Its classes are rows of the backbone's embedding (`classes`: blank first), scored by cosine similarity, so the
    audio tokens learn to look like the embeddings of the words they hold and no extra head is trained or saved.
    answers: the answer's token ids (the stop token is dropped), each in `classes`.

    CTC reads only the blank's and the clip's own tokens' log-probabilities, so each clip's distribution over all the
    classes is folded into those few plus one "any other class" column before the CTC itself: the same loss and
    gradients, without the CTC passes and copies over ~15k classes that dominated a training step. The folded
    distribution still sums to one, which PyTorch's CTC backward assumes (its gradient adds exp(log_probs)).
    """
    lookup = torch.full((len(emb),), -1, dtype=torch.long, device=classes.device)  # vocabulary id -> class
    lookup[classes] = torch.arange(len(classes), device=classes.device)
    labels = [lookup[a[a != TURN_END_ID]] for a in answers]
    if any(bool((label < 0).any()) for label in labels):
        raise ValueError("transcript_ctc: an answer token is not among the CTC classes")
    rows = F.normalize(emb[classes].float(), dim=-1)
    audio = nn.utils.rnn.pad_sequence([F.normalize(e.float(), dim=-1) for e in embeds], batch_first=True)
    logits = CTC_SCALE * audio @ rows.T  # [B, L, classes]
    total = torch.logsumexp(logits, dim=-1, keepdim=True)
    # per clip: the blank (class 0), then its distinct tokens, padded with the blank to the batch's widest
    distinct = [label.unique() for label in labels]
    used = nn.utils.rnn.pad_sequence([torch.cat((d.new_zeros(1), d)) for d in distinct], batch_first=True)
    padding = torch.arange(used.shape[1]) > torch.tensor([len(d) for d in distinct]).unsqueeze(1)  # [B, used]
    index = used.unsqueeze(1).expand(-1, logits.shape[1], -1)
    # a padding column gets no probability: a finite floor, since CTC's backward turns -inf into NaN
    kept = logits.gather(2, index).masked_fill(padding.unsqueeze(1), NO_PROBABILITY) - total
    # log(1 - p(kept)) from the kept columns alone: a second pass over every class would cost as much as the first
    others = torch.log1p(-torch.logsumexp(kept, dim=-1, keepdim=True).exp().clamp(max=1 - KEPT_MARGIN))
    folded = torch.cat((kept, others), dim=-1)  # [B, L, used + 1] log-probabilities
    local = [torch.searchsorted(d, label) + 1 for d, label in zip(distinct, labels)]
    return F.ctc_loss(
        folded.transpose(0, 1),  # [L, B, used + 1]
        torch.cat(local), torch.tensor([len(e) for e in embeds]), torch.tensor([len(label) for label in labels]),
        blank=0, zero_infinity=True,  # a clip too short for its transcript adds nothing instead of inf
    )


class TextLoss(nn.Module):
    """Next-token loss on the answers; with `ctc_weight`, plus that weight times `transcript_ctc` (every batch item
    must then have a modality input). `parts` holds the latest batch's two terms, detached, for the loss log."""

    def __init__(self, model: ModRWKV, modality: str, ctc_weight: float = 0.0, ctc_classes: torch.Tensor | None = None):
        super().__init__()
        if ctc_weight and ctc_classes is None:
            raise ValueError("TextLoss: ctc_weight needs ctc_classes")
        self.model, self.modality, self.ctc_weight = model, modality, ctc_weight
        self.register_buffer("ctc_classes", ctc_classes, persistent=False)
        self.parts: dict[str, torch.Tensor] = {}

    def forward(
        self, ids: torch.Tensor, targets: torch.Tensor, slots: torch.Tensor, features: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """features: the encoder features [L, D] of each batch item with a modality input, in batch order."""
        llm = self.model.llm
        x = llm.emb(ids)
        if features:
            adapter = self.model.adapters[self.modality]
            per_item = [adapter(f.unsqueeze(0))[0] for f in features]
            x = x.masked_scatter(slots.unsqueeze(-1), torch.cat(per_item).to(x.dtype))  # batch order, then position
        hidden, _ = llm.forward_embeds(x, hidden=True)
        loss = answer_loss(llm, hidden, targets)
        if not self.ctc_weight:
            return loss
        if len(features) != len(ids):
            raise ValueError("TextLoss: the CTC loss needs a modality input in every batch item")
        answers = [row[row != IGNORE_INDEX] for row in targets]
        ctc = transcript_ctc(per_item, answers, self.ctc_classes, llm.emb.weight)
        self.parts = {"answer_loss": loss.detach(), "ctc_loss": ctc.detach()}
        return loss + self.ctc_weight * ctc


class ForecastLoss(nn.Module):
    def __init__(self, model: ModRWKV):
        super().__init__()
        self.model = model

    def forward(
        self, target: torch.Tensor, features: torch.Tensor | None = None, values: torch.Tensor | None = None
    ) -> torch.Tensor:
        """target [B, horizon, channels], normalised; features [B, L, D] of the context windows or, when the encoder
        learns, their normalised values [B, T, channels] (encoded here: the encoder is inside the wrapped module)."""
        if values is not None:
            features = self.model.encoders["series"](values=values)
        embeds = self.model.adapters["series"](features)
        hidden, _ = self.model.llm.forward_embeds(embeds, hidden=True, last_only=True)
        head = self.model.forecast_head
        return quantile_loss(head(hidden[:, 0].float()), target.float(), head.config.quantiles)
