"""Multi-turn chat that keeps the RNN state between turns: a new turn only processes its new tokens."""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modrwkv.generation.sampling import CHAT_DEFAULTS, GenerationConfig
from modrwkv.generation.streaming import AnswerStart, BatchGeneration, GenerationStats, Prompt, SequenceResult
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.state import RWKVState
from modrwkv.tokenizer import RWKVTokenizer

if TYPE_CHECKING:
    from modrwkv.serving.scheduler import Scheduler


@dataclass(frozen=True)
class ChatTemplate:
    user: str  # a user turn, with "{message}", ending where the assistant's answer starts
    stop: tuple[str, ...]  # what ends an answer
    turn_end: str  # appended to the transcript when an answer ended otherwise (length, stop button)
    system: str = "System: {message}\n\n"
    # whether a stop token that ended an answer is fed before the next turn (it is part of the transcript); the
    # official ModRWKV inference samples it and drops it; without it, `turn_end` follows every answer
    feed_stop_token: bool = True
    start: str = ""  # fed once, before the first turn (a chat template's beginning-of-text)

    @classmethod
    def from_jinja(cls, source: str) -> ChatTemplate:
        """The turns a Hugging Face chat template (Jinja, rendered as transformers renders it) lays out, so that a
        conversation can still feed one turn at a time: the template is rendered for one user turn and for a
        question, an answer and a follow-up, and the differences give the start, the user turn and what follows an
        answer. ValueError for a template that does not repeat the same user turn."""
        from transformers.utils.chat_template_utils import render_jinja_template

        def render(*turns: tuple[str, str]) -> str:
            messages = [{"role": role, "content": text} for role, text in turns]
            return render_jinja_template([messages], chat_template=source, add_generation_prompt=True)[0][0]

        first = render(("user", "{message}"))
        follow_up = render(("user", "{first}"), ("assistant", "{answer}"), ("user", "{message}"))
        if first.count("{message}") != 1 or follow_up.count("{answer}") != 1:
            raise ValueError("the chat template does not render a user's message and an answer once each")
        after = follow_up.split("{answer}", 1)[1]
        same = 0
        while same < min(len(first), len(after)) and first[-1 - same] == after[-1 - same]:
            same += 1
        user = first[len(first) - same:]
        if "{message}" not in user:
            raise ValueError("the chat template lays out a follow-up turn unlike the first one")
        return cls(user=user, stop=(), turn_end=after[: len(after) - same], feed_stop_token=False,
                   start=first[: len(first) - same])

    def clean(self, message: str) -> str:
        message = message.strip()
        if not message:
            raise ValueError("empty message: type something to send")
        if "\n\n" in self.stop:
            # ChatRWKV's rule: a blank line ends a turn in the World format, so the user's are collapsed
            message = re.sub(r"\n\s*\n+", "\n", message)
        return message


# RWKV World / G1 chat format (as in BlinkDL's ChatRWKV): "User: ...\n\nAssistant: ...\n\n"
WORLD_CHAT = ChatTemplate(user="User: {message}\n\nAssistant:", stop=("\n\n",), turn_end="\n\n")


class ChatSession:
    """One conversation: its history, its RNN state, and the figures of its last answer."""

    def __init__(
        self,
        llm: RWKV7,
        tokenizer: RWKVTokenizer,
        template: ChatTemplate = WORLD_CHAT,
        config: GenerationConfig = CHAT_DEFAULTS,
        system: str | None = None,
        scheduler: Scheduler | None = None,
    ):
        """`scheduler`: answer in its shared batched steps with other conversations (a server), instead of alone."""
        self.llm, self.tokenizer, self.template = llm, tokenizer, template
        self.scheduler = scheduler
        self.ahead: int | None = None  # with a scheduler: requests waiting before this turn's, until it is served
        self.config = config.with_(stop=tuple(dict.fromkeys(config.stop + template.stop)))
        self.system = system
        self.reset()

    def reset(self) -> None:
        """Forget the conversation: zero state, empty history."""
        self.state: RWKVState | None = None  # the transcript so far, except `pending`
        self.pending: list[int] = []  # tokens of the transcript not yet fed to `state`
        self.tokens: list[int] = []  # the whole transcript as token ids
        self.history: list[tuple[str, str]] = []
        self.last_stats = GenerationStats()
        start = self.template.start
        if self.system:
            start += self.template.system.format(message=self.template.clean(self.system))
        self.pending = self.tokenizer.encode(start) if start else []
        self.tokens = list(self.pending)

    @property
    def state_bytes(self) -> int:
        return self.state.nbytes if self.state is not None else self.llm.new_state(1).nbytes

    def prompt_tokens(self, message: str) -> list[int]:
        """What the next turn will feed the model: pending tokens and the new user turn, nothing older."""
        return self.pending + self.tokenizer.encode(self.template.user.format(message=self.template.clean(message)))

    def send(self, message: str) -> Iterator[str]:
        """Stream the answer to `message`. The state and history are updated when the stream ends or is closed.

        A piece may be '' (a long prompt between its chunks, or text held back): closing the stream there stops
        the work; closed before the answer starts, the conversation is as it was before `message`."""
        prompt = self.prompt_tokens(message)
        return self._stream(message, prompt, prompt[len(self.pending):])

    def feed(self, message: str, answer: str) -> None:
        """Add a finished turn without generating, e.g. to rebuild a conversation from its text after an edit.

        Its tokens wait in `pending` and are processed together with the next message.
        """
        # the model writes a space after "Assistant:" (AnswerStart trims it from the text it shows)
        text = (
            self.template.user.format(message=self.template.clean(message)) + " " + answer.strip()
            + self.template.turn_end
        )
        turn = self.tokenizer.encode(text)
        self.pending += turn
        self.tokens += turn
        self.history.append((message, answer.strip()))

    def _stream(self, message: str, prompt: Prompt, new_tokens: list[int]) -> Iterator[str]:
        """Generate from `prompt` (pending tokens included); `new_tokens` is what it adds to the transcript."""
        if self.scheduler is not None:
            yield from self._scheduled(message, prompt, new_tokens)
            return
        with closing(ChatSession._answer([self], [message], [prompt], [new_tokens])) as steps:
            for deltas in steps:
                yield deltas[0]  # '' too: the consumer's chance to stop between chunks of a long prompt

    def _scheduled(self, message: str, prompt: Prompt, new_tokens: list[int]) -> Iterator[str]:
        stream = self.scheduler.submit(prompt, self.state, self.config)
        self.last_stats = stream.result.stats  # updated while the answer streams
        start = AnswerStart()
        try:
            with closing(iter(stream)) as pieces:  # the request leaves the batch before its state is taken
                for piece in pieces:
                    self.ahead = stream.ahead
                    yield start(piece)
        finally:
            self.ahead = None
            self._record(message, new_tokens, stream.result)

    @staticmethod
    def send_batch(sessions: Sequence[ChatSession], messages: Sequence[str]) -> Iterator[list[str]]:
        """Answer several conversations at once (one batch through the model); yields each step's new text."""
        if len(sessions) != len(messages) or not sessions:
            raise ValueError(f"need one message per session, got {len(messages)} for {len(sessions)}")
        if any(s.llm is not sessions[0].llm for s in sessions):
            raise ValueError("sessions answered together must share one language model")
        if len({s.config for s in sessions}) != 1:
            raise ValueError("sessions answered together must share one generation config")
        prompts = [s.prompt_tokens(m) for s, m in zip(sessions, messages)]
        new_tokens = [p[len(s.pending):] for s, p in zip(sessions, prompts)]
        return ChatSession._answer(sessions, messages, prompts, new_tokens)

    @staticmethod
    def _answer(
        sessions: Sequence[ChatSession], messages: Sequence[str], prompts: Sequence[Prompt],
        new_tokens: Sequence[list[int]],
    ) -> Iterator[list[str]]:
        """One batch through the model; each session's state and history are updated when the stream ends or is
        closed (a stop button)."""
        first = sessions[0]
        gen = BatchGeneration(first.llm, first.tokenizer, prompts, [s.state for s in sessions], first.config)
        starts = [AnswerStart() for _ in sessions]
        for s, r in zip(sessions, gen.results):
            s.last_stats = r.stats  # updated while the answer streams
        try:
            with closing(iter(gen)) as steps:  # the generation's own cleanup runs before the states are taken
                for deltas in steps:
                    yield [start(d) for start, d in zip(starts, deltas)]
        finally:
            for s, m, n, r in zip(sessions, messages, new_tokens, gen.results):
                s._record(m, n, r)

    def _record(self, message: str, new_tokens: list[int], result: SequenceResult) -> None:
        if not result.done:  # the stream never started: nothing was processed
            return
        pending = list(result.pending)
        if result.stats.stop_reason == "eos" and not self.template.feed_stop_token:
            pending = self.tokenizer.encode(self.template.turn_end) if self.template.turn_end else []
        if result.stats.stop_reason in ("length", "cancelled"):
            pending += self.tokenizer.encode(self.template.turn_end)  # keep the transcript in the chat format
        self.tokens += new_tokens + result.tokens + pending[len(result.pending):]
        self.state, self.pending = result.state, pending
        self.history.append((message, result.text.strip()))
        self.last_stats = result.stats
