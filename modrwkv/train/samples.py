"""Records -> training samples laid out exactly as inference lays out its prompts, labelled on the answers only.

Image turns follow `ImageChat` (prepend: the image block before the turn; placeholder: vision start, pads, vision
end right after "\\x16User:"), audio follows `Transcriber` (audio block, then "\\x16Assistant:"). An answer is
what generation produces: " " + text, then the stop token "\\x17" (the next turn's prompt follows it).
The series path has no text: the modality embeddings alone go through the backbone (as in `Forecaster`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from modrwkv.encoders.base import Encoder
from modrwkv.encoders.media import MediaError
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import PROMPT_AUDIO, TURN_END_ID, VISION_END_ID, VISION_START_ID
from modrwkv.pipelines.image_chat import PLACEHOLDER_CHAT, PREPEND_CHAT
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train.data import Conversation, DataError, Transcript, Window

IGNORE_INDEX = -100  # cross_entropy's ignore_index: no loss, no gradient
MEDIA = -1  # where the modality block goes in `TextSample.ids`; one placeholder per embedding once expanded


@dataclass(frozen=True)
class TextSample:
    media: Path | None  # the encoder's input (an image or audio file); None for a text-only record
    ids: tuple[int, ...]  # token ids, MEDIA at the modality block
    answer: tuple[bool, ...]  # per id: part of an answer (the loss is on these only)
    where: str

    @property
    def key(self) -> str:
        return str(self.media)


@dataclass(frozen=True)
class SeriesSample:
    media: np.ndarray  # the context window [T, channels]
    target: torch.Tensor  # [horizon, channels], normalised with the context's mean and std, as the head predicts
    where: str
    key: str  # a hash of the window's values: equal windows share their features


def make_samples(
    records: Sequence[Conversation] | Sequence[Transcript] | Sequence[Window], tokenizer: RWKVTokenizer, model: ModRWKV
) -> list[TextSample] | list[SeriesSample]:
    samples = []
    for record in records:
        if isinstance(record, Conversation):
            samples.append(conversation_sample(record, tokenizer, model.config.placement))
        elif isinstance(record, Transcript):
            samples.append(transcript_sample(record, tokenizer))
        else:
            try:
                samples.append(window_sample(record, model.encoders["series"]))
            except MediaError as e:  # too short for the encoder, or the wrong number of channels
                raise DataError(f"{record.where}: {e}") from None
    return samples


def conversation_sample(record: Conversation, tokenizer: RWKVTokenizer, placement: str) -> TextSample:
    template = PLACEHOLDER_CHAT if placement == "placeholder" else PREPEND_CHAT
    ids: list[int] = []
    answer: list[bool] = []
    for i, (question, reply) in enumerate(record.turns):
        if record.image is not None and i == record.image_turn:
            if placement == "prepend":
                prompt = [MEDIA] + tokenizer.encode(template.user.format(message=question))
            else:
                before, after = template.user.split("{message}")
                prompt = (tokenizer.encode(before) + [VISION_START_ID, MEDIA, VISION_END_ID]
                          + tokenizer.encode(question + after))
        else:
            prompt = tokenizer.encode(template.user.format(message=question))
        reply_ids = answer_ids(tokenizer, reply)
        ids += prompt + reply_ids
        answer += [False] * len(prompt) + [True] * len(reply_ids)
    return TextSample(record.image, tuple(ids), tuple(answer), record.where)


def transcript_sample(record: Transcript, tokenizer: RWKVTokenizer) -> TextSample:
    prompt = [MEDIA] + tokenizer.encode(PROMPT_AUDIO)
    reply = answer_ids(tokenizer, record.text)
    return TextSample(record.audio, tuple(prompt + reply), (False,) * len(prompt) + (True,) * len(reply), record.where)


def window_sample(record: Window, encoder: Encoder) -> SeriesSample:
    batch = encoder.preprocess([record.context])  # the encoder's own normalisation, as Forecaster uses it
    target = (torch.from_numpy(record.target).unsqueeze(0) - batch["mean"]) / batch["std"]
    key = hashlib.sha1(f"{record.context.shape}{record.context.dtype}".encode() + record.context.tobytes()).hexdigest()
    return SeriesSample(record.context, target[0], record.where, key)


def answer_ids(tokenizer: RWKVTokenizer, text: str) -> list[int]:
    # the model writes a space after "Assistant:" (AnswerStart trims it), then stops with "\x17"
    return tokenizer.encode(" " + text.strip()) + [TURN_END_ID]


def expand(sample: TextSample, n_embeds: int, placeholder_id: int) -> tuple[list[int], list[int], list[bool]]:
    """(ids, next-token targets, modality slots) with the MEDIA marker replaced by `n_embeds` placeholders.

    targets[t] is the token position t must predict when it is an answer token, else IGNORE_INDEX.
    """
    ids, is_answer, slots = [], [], []
    for token, in_answer in zip(sample.ids, sample.answer):
        block = n_embeds if token == MEDIA else 1
        ids += [placeholder_id if token == MEDIA else token] * block
        is_answer += [in_answer] * block
        slots += [token == MEDIA] * block
    targets = [ids[t + 1] if is_answer[t + 1] else IGNORE_INDEX for t in range(len(ids) - 1)] + [IGNORE_INDEX]
    return ids, targets, slots


def text_batch(
    samples: Sequence[TextSample], n_embeds: Sequence[int | None], placeholder_id: int
) -> dict[str, torch.Tensor]:
    """Right-padded `ids`, `targets` and `slots` [B, T]; padding comes after every real position, so in a causal
    model it changes nothing before it, and its targets are ignored."""
    rows = [expand(s, n or 0, placeholder_id) for s, n in zip(samples, n_embeds)]
    width = max(len(ids) for ids, _, _ in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    targets = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    slots = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, (i, t, s) in enumerate(rows):
        ids[b, :len(i)] = torch.tensor(i)
        targets[b, :len(t)] = torch.tensor(t)
        slots[b, :len(s)] = torch.tensor(s)
    return {"ids": ids, "targets": targets, "slots": slots}
