"""Speech recognition with ModRWKV: audio -> windows the encoder can take -> text, streamed, with timestamps."""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from modrwkv.encoders.media import SAMPLE_RATE, MediaError, load_audio_item
from modrwkv.generation.sampling import GenerationConfig
from modrwkv.generation.streaming import AnswerStart, BatchGeneration
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import PROMPT_AUDIO, TURN_END_ID
from modrwkv.pipelines.speech_spans import speech_spans
from modrwkv.serving.encoding import EncoderQueue, embeddings
from modrwkv.serving.scheduler import Scheduler, Stream
from modrwkv.tokenizer import RWKVTokenizer

# ASR is greedy in the official demos (f15e179 web/audio_web.py); stop at "\x17", never emit token 0.
ASR_DEFAULTS = GenerationConfig(temperature=0, presence_penalty=0, frequency_penalty=0, stop_tokens=(TURN_END_ID,),
                                banned_tokens=(0,), max_new_tokens=400)
# The official WavLM wrapper refuses more than 1023 frames (50 per second): windows of 20 s stay under it.
DEFAULT_WINDOW_SECONDS = 20.0
SILENCE_RMS = 1e-4  # below this a recording is treated as silent (no speech to transcribe)
# Speech runs at ~3 words (~5 tokens) a second; a window's answer is capped well above that, so a model that
# fails to stop (untrained, or hallucinating over noise) cannot decode for minutes over a few seconds of audio.
MAX_TOKENS_PER_SECOND = 10
# With a scheduler, a recording's windows queued at once: a long recording's decode side by side, while it takes no
# more than this many of the batch's places from other visitors.
WINDOWS_AHEAD = 3


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    text: str


class Transcriber:
    """Transcribes recordings of any length: cut around the speech at its pauses (`speech_spans`) into windows the
    encoder takes, each transcribed from a fresh state, stitched; each window is one timed segment."""

    def __init__(self, model: ModRWKV, tokenizer: RWKVTokenizer, config: GenerationConfig | None = None,
                 prompt: str = PROMPT_AUDIO, window_seconds: float | None = None, scheduler: Scheduler | None = None,
                 encoder_queue: EncoderQueue | None = None):
        """`config`: default ASR_DEFAULTS with the model's own decoding defaults (`model.config.generation`);
        `scheduler`: one serving `model.llm`, to decode each window in batched steps with other requests;
        `encoder_queue`: one serving `model`'s encoders, to encode each window together with other requests' input."""
        if "audio" not in model.encoders:
            raise ValueError(f"this model reads {', '.join(model.encoders) or 'text only'}, not audio")
        self.model, self.tokenizer, self.scheduler, self.encoder_queue = model, tokenizer, scheduler, encoder_queue
        self.config = config or ASR_DEFAULTS.with_(**model.config.generation)
        self.prompt_ids = tokenizer.encode(prompt)
        encoder_window = model.encoders["audio"].max_seconds
        self.window_seconds = window_seconds or min(encoder_window or DEFAULT_WINDOW_SECONDS, DEFAULT_WINDOW_SECONDS)
        self.segments: list[Segment] = []
        self.ahead: int | None = None  # with a scheduler: requests waiting before the current window's

    def stream(self, audio: object, sample_rate: int | None = None) -> Iterator[str]:
        """Yield the transcript as it is decoded ('' for a step without new text, where closing the stream stops
        the work); `segments` holds the timed pieces once the stream ends.

        audio: a file path, a 16 kHz mono array, or (array, sample_rate) when sample_rate is given.
        """
        samples = load_audio_item((audio, sample_rate) if sample_rate is not None else audio)
        what = _named(audio)
        if float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) < SILENCE_RMS:
            raise MediaError(f"{what} is silent: no speech to transcribe (check the microphone input level)")
        spans = speech_spans(samples, self.window_seconds, SAMPLE_RATE)
        if not spans:
            raise MediaError(f"no speech found in {what}: it holds noise or hum but no voice, so there is nothing "
                             "to transcribe (check the microphone, or that the file is a speech recording)")
        self.segments = []
        with closing(self._window_pieces(samples, spans)) as windows:
            for (begin, end), pieces in windows:
                text, start = "", AnswerStart()
                with closing(pieces):
                    for piece in pieces:
                        piece = start(piece)
                        if piece and self.segments and not text:
                            piece = " " + piece
                        text += piece
                        yield piece  # '' too: a step without text is where a consumer may stop the work
                self.segments.append(Segment(begin / SAMPLE_RATE, end / SAMPLE_RATE, text.strip()))

    def _request(self, samples: np.ndarray, span: tuple[int, int]) -> tuple[torch.Tensor, GenerationConfig]:
        """A window's prompt (its audio tokens, then the prompt text) and its decoding settings."""
        window = samples[span[0]:span[1]]
        embeds = embeddings(self.model, "audio", [window], self.encoder_queue)[0]
        prompt = self.model.join(self.prompt_ids, embeds)[0]
        cap = int(MAX_TOKENS_PER_SECOND * len(window) / SAMPLE_RATE) + 8
        return prompt, self.config.with_(max_new_tokens=min(self.config.max_new_tokens, cap))

    def _window_pieces(self, samples: np.ndarray, spans: list[tuple[int, int]]
                       ) -> Iterator[tuple[tuple[int, int], Iterator[str]]]:
        """Each window's span and its text pieces, in order, each from a fresh state. Alone, a window is encoded and
        decoded when its turn comes; with a scheduler, up to WINDOWS_AHEAD windows are in its queue at once, so a
        long recording's windows decode side by side instead of each waiting for a place in turn (those after the
        one being read in the background: they take places no other request waits for)."""
        if self.scheduler is None:
            for span in spans:
                prompt, config = self._request(samples, span)
                yield span, _first_of(BatchGeneration(self.model.llm, self.tokenizer, [prompt], None, config))
            return
        submitted: deque[tuple[tuple[int, int], Stream]] = deque()
        rest = iter(spans)
        try:
            while True:
                while len(submitted) < WINDOWS_AHEAD and (span := next(rest, None)) is not None:
                    prompt, config = self._request(samples, span)
                    # a window after the one being read is read-ahead: it must not keep others from their first words
                    submitted.append((span, self.scheduler.submit(prompt, None, config, background=bool(submitted))))
                if not submitted:
                    return
                span, stream = submitted.popleft()
                stream.foreground()
                yield span, self._pieces(stream)
        finally:
            for _, stream in submitted:  # stopped early: the windows not read leave the queue
                stream.cancel()

    def _pieces(self, stream: Stream) -> Iterator[str]:
        try:
            with closing(iter(stream)) as pieces:
                for piece in pieces:
                    self.ahead = stream.ahead
                    yield piece
        finally:
            self.ahead = None

    def transcribe(self, audio: object, sample_rate: int | None = None) -> list[Segment]:
        for _ in self.stream(audio, sample_rate):
            pass
        return self.segments


def _first_of(gen: BatchGeneration) -> Iterator[str]:
    """The text pieces of a one-sequence generation."""
    with closing(iter(gen)) as steps:
        for deltas in steps:
            yield deltas[0]


def _named(audio: object) -> str:
    """How a refusal names the recording: by its file's name where it is a file (the name its user gave it)."""
    return f"'{Path(audio).name}'" if isinstance(audio, (str, os.PathLike)) else "the recording"


def to_srt(segments: list[Segment]) -> str:
    """SubRip subtitles: numbered cues with HH:MM:SS,mmm timestamps."""

    def stamp(seconds: float) -> str:
        ms = int(round(seconds * 1000))
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i}\n{stamp(s.start)} --> {stamp(s.end)}\n{s.text}\n\n" for i, s in enumerate(segments, 1))
