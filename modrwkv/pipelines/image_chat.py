"""Questions about images in the official ModRWKV prompt format, keeping the RNN state between turns.

A follow-up about the same image feeds only the new turn: the image is in the state already.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import torch

from modrwkv.encoders.media import ImageInput
from modrwkv.generation.chat_session import ChatSession, ChatTemplate
from modrwkv.generation.sampling import GenerationConfig
from modrwkv.generation.streaming import prefill
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import TURN_END_ID, VISION_END_ID, VISION_START_ID
from modrwkv.serving.encoding import EncoderQueue, embeddings
from modrwkv.serving.scheduler import Scheduler
from modrwkv.tokenizer import RWKVTokenizer

# f15e179 web/visual_web.py: "\x16User: {q}\x17Assistant:"; 0881058 process_wr: "\x16User:{image}{q}\x17\x16Assistant:"
PREPEND_CHAT = ChatTemplate(
    user="\x16User: {message}\x17Assistant:", stop=(), turn_end="\x17", system="\x16System: {message}\x17"
)
PLACEHOLDER_CHAT = ChatTemplate(
    user="\x16User:{message}\x17\x16Assistant:", stop=(), turn_end="\x17", system="\x16System:{message}\x17"
)
# The official generate() stops at "\x17" (24) and bans token 0.
VISION_DEFAULTS = GenerationConfig(top_p=0.3, presence_penalty=0.5, frequency_penalty=0.5, stop_tokens=(TURN_END_ID,),
                                   banned_tokens=(0,), max_new_tokens=500)


class ImageChat(ChatSession):
    """A conversation about images with a ModRWKV model that has an image encoder."""

    def __init__(self, model: ModRWKV, tokenizer: RWKVTokenizer, config: GenerationConfig | None = None,
                 system: str | None = None, scheduler: Scheduler | None = None,
                 encoder_queue: EncoderQueue | None = None):
        """`config`: default VISION_DEFAULTS with the model's own decoding defaults (`model.config.generation`);
        `scheduler`: one serving `model.llm`, to answer in batched steps with other conversations;
        `encoder_queue`: one serving `model`'s encoders, to encode images together with other requests'."""
        if "image" not in model.encoders:
            raise ValueError(f"this model reads {', '.join(model.encoders) or 'text only'}, not images")
        self.model, self.encoder_queue = model, encoder_queue
        template = PLACEHOLDER_CHAT if model.config.placement == "placeholder" else PREPEND_CHAT
        if model.config.chat_template:  # a Hugging Face release's own layout (images go before the message)
            template = dataclasses.replace(ChatTemplate.from_jinja(model.config.chat_template),
                                           system=template.system)
        elif model.config.turn_end != template.turn_end:  # official checkpoints: the stop token is never fed
            template = dataclasses.replace(template, turn_end=model.config.turn_end, feed_stop_token=False)
        config = config or VISION_DEFAULTS.with_(**model.config.generation)
        super().__init__(model.llm, tokenizer, template, config, system, scheduler)

    def send(self, message: str, images: Sequence[ImageInput] = ()) -> Iterator[str]:
        """Stream the answer about `images` (new ones for this turn; earlier ones stay in the state)."""
        if not images:
            text_ids = self.prompt_tokens(message)
            return self._stream(message, text_ids, text_ids[len(self.pending):])
        prompt, new = self._image_turn(message, images, [])
        return self._stream(message, prompt, new)

    def feed(self, message: str, answer: str, images: Sequence[ImageInput] = ()) -> None:
        """Add a finished turn about `images` without generating (rebuilding a conversation after an edit).

        A turn with images is processed at once (pending tokens are ids, and images are embeddings).
        """
        if not images:
            return super().feed(message, answer)
        answer_ids = self.tokenizer.encode(" " + answer.strip() + self.template.turn_end)
        prompt, new = self._image_turn(message, images, answer_ids)
        _, self.state = prefill(self.llm, [prompt], [self.state])
        self.pending = []
        self.tokens += new
        self.history.append((message, answer.strip()))

    def _image_turn(
        self, message: str, images: Sequence[ImageInput], suffix: list[int]
    ) -> tuple[torch.Tensor, list[int]]:
        """The prompt embeddings [T, C] of a user turn with `images` (pending tokens first, `suffix` ids last)
        and the token ids the turn adds to the transcript (image positions as placeholder ids)."""
        text_ids = self.prompt_tokens(message)  # checks the message
        embeds = embeddings(self.model, "image", images, self.encoder_queue)  # MediaError for an unreadable file
        pad = self.model.config.placeholder_id
        blocks = [[pad] * e.shape[1] for e in embeds]
        if self.model.config.placement == "prepend":  # paper era: the image embeddings come before the turn
            new = [t for block in blocks for t in block] + text_ids[len(self.pending):]
        else:  # later releases: <|vision_start|> pads <|vision_end|> right after "\x16User:"
            before, after = self.template.user.split("{message}")
            image_ids = [t for block in blocks for t in [VISION_START_ID, *block, VISION_END_ID]]
            new = (self.tokenizer.encode(before) + image_ids
                   + self.tokenizer.encode(self.template.clean(message) + after))
        new = new + suffix
        return self.model.fill(self.pending + new, torch.cat(embeds, dim=1))[0], new
