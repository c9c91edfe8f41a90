"""The end-of-training evaluation, through the inference pipelines (what users will get, prompt for prompt).

Images: the first question of each record with an image, answered greedily by `ImageChat`, scored by VQA accuracy.
Audio: `Transcriber` (greedy), scored by corpus WER and CER. Series: `Forecaster`'s median, MSE and MAE in the
series' own units.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modrwkv.multimodal import ModRWKV
from modrwkv.pipelines.forecast import Forecaster
from modrwkv.pipelines.image_chat import VISION_DEFAULTS, ImageChat
from modrwkv.pipelines.transcription import ASR_DEFAULTS, Transcriber
from modrwkv.tokenizer import RWKVTokenizer
from modrwkv.train import metrics
from modrwkv.train.data import Conversation, Transcript, Window

EXAMPLES = 10  # predictions written next to the scores, to read what the model does


def evaluate(
    model: ModRWKV,
    tokenizer: RWKVTokenizer,
    records: Sequence[Conversation] | Sequence[Transcript] | Sequence[Window],
    max_new_tokens: int = 64,
) -> dict:
    model.eval()
    first = records[0]
    if isinstance(first, Conversation):
        return _vqa(model, tokenizer, records, max_new_tokens)
    if isinstance(first, Transcript):
        return _asr(model, tokenizer, records, max_new_tokens)
    return _forecast(model, records)


def _vqa(model: ModRWKV, tokenizer: RWKVTokenizer, records: Sequence[Conversation], max_new_tokens: int) -> dict:
    greedy = VISION_DEFAULTS.with_(
        temperature=0, presence_penalty=0, frequency_penalty=0, max_new_tokens=max_new_tokens
    )
    scores, examples = [], []
    for record in (r for r in records if r.image is not None):
        chat = ImageChat(model, tokenizer, greedy)
        prediction = "".join(chat.send(record.turns[0][0], [record.image])).strip()
        scores.append(metrics.vqa_accuracy(prediction, record.answers))
        if len(examples) < EXAMPLES:
            examples.append({"question": record.turns[0][0], "prediction": prediction, "answers": list(record.answers)})
    return {"task": "vqa", "records": len(scores), "vqa_accuracy": float(np.mean(scores)) if scores else None,
            "examples": examples}


def _asr(model: ModRWKV, tokenizer: RWKVTokenizer, records: Sequence[Transcript], max_new_tokens: int) -> dict:
    transcriber = Transcriber(model, tokenizer, ASR_DEFAULTS.with_(max_new_tokens=max_new_tokens))
    hypotheses = [" ".join(s.text for s in transcriber.transcribe(r.audio)).strip() for r in records]
    references = [r.text for r in records]
    examples = [{"reference": r, "prediction": h} for r, h in zip(references[:EXAMPLES], hypotheses)]
    return {"task": "asr", "records": len(records), "wer": metrics.wer(references, hypotheses),
            "cer": metrics.cer(references, hypotheses), "examples": examples}


def _forecast(model: ModRWKV, records: Sequence[Window]) -> dict:
    forecaster = Forecaster(model)
    predicted = np.stack([forecaster.forecast(w.context, len(w.target)).median for w in records])
    actual = np.stack([w.target for w in records])
    return {"task": "forecast", "records": len(records), "mse": metrics.mse(predicted, actual),
            "mae": metrics.mae(predicted, actual)}
