"""Choosing the next token: RWKV's usual sampler (top-p before temperature, decaying repetition penalties)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling and stopping. Defaults are those of BlinkDL's `rwkv.utils.PIPELINE_ARGS`."""

    temperature: float = 1.0  # 0 means greedy
    top_p: float = 0.85
    top_k: int = 0  # 0 means off
    presence_penalty: float = 0.2  # subtracted once from every token already generated
    frequency_penalty: float = 0.2  # subtracted per (decayed) occurrence
    penalty_decay: float = 0.996  # occurrences fade so long answers are not starved of common words
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()  # generation ends before any of these strings
    stop_tokens: tuple[int, ...] = (0,)  # token 0 is RWKV's end of text
    banned_tokens: tuple[int, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (self.top_k >= 0, f"top_k must be >= 0, got {self.top_k}"),
            (0 < self.penalty_decay <= 1, f"penalty_decay must be in (0, 1], got {self.penalty_decay}"),
            (self.max_new_tokens >= 1, f"max_new_tokens must be >= 1, got {self.max_new_tokens}"),
            (
                all(isinstance(s, str) and s for s in self.stop),
                f"stop strings must be non-empty strings, got {self.stop!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        object.__setattr__(self, "stop", tuple(self.stop))

    def with_(self, **changes) -> GenerationConfig:
        return replace(self, **changes)


# ChatRWKV's chat settings: a narrower nucleus and stronger penalties than plain completion.
CHAT_DEFAULTS = GenerationConfig(top_p=0.3, presence_penalty=0.5, frequency_penalty=0.5, banned_tokens=(0,))


@dataclass
class Sampler:
    """Samples one token per row of a batch and keeps each row's repetition counts."""

    config: GenerationConfig
    batch_size: int
    vocab_size: int
    device: torch.device | str = "cpu"
    counts: torch.Tensor = field(init=False)
    seen: torch.Tensor = field(init=False)
    generator: torch.Generator | None = field(init=False)

    def __post_init__(self) -> None:
        self.counts = torch.zeros(self.batch_size, self.vocab_size, device=self.device)
        self.seen = torch.zeros(self.batch_size, self.vocab_size, device=self.device)  # 1.0 once a token appeared
        self.generator = None
        if self.config.seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [B, V] -> token ids [B]."""
        cfg = self.config
        logits = torch.sub(logits.float(), self.seen, alpha=cfg.presence_penalty)
        logits.sub_(self.counts, alpha=cfg.frequency_penalty)
        if cfg.banned_tokens:
            logits[:, list(cfg.banned_tokens)] = -torch.inf
        if cfg.temperature == 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits, dim=-1)
        if cfg.top_k:
            kth = probs.topk(min(cfg.top_k, probs.shape[-1]), dim=-1).values[:, -1:]
            probs = torch.where(probs < kth, 0.0, probs)
        if cfg.top_p < 1:
            probs = torch.where(probs < nucleus_cutoff(probs, cfg.top_p), 0.0, probs)
        if cfg.temperature != 1:
            probs = probs ** (1.0 / cfg.temperature)
        return draw(probs, self.generator)

    def observe(self, tokens: torch.Tensor) -> None:
        """Record the tokens just generated (one per row) for the repetition penalties."""
        self.counts *= self.config.penalty_decay
        rows = torch.arange(len(tokens), device=self.counts.device)
        self.counts[rows, tokens] += 1
        self.seen[rows, tokens] = 1.0

    def keep(self, rows: list[int]) -> None:
        """Drop the rows that finished (rows: the positions still generating)."""
        self.counts, self.seen = self.counts[rows], self.seen[rows]


# Candidate counts tried in turn before a full sort. A language model's top-p nucleus nearly always lies among its
# likeliest 64 tokens, and finding them is the cheap step: a small topk costs a fraction of a full sort of the
# vocabulary, and a larger one still much less.
NUCLEUS_CANDIDATES = (64, 1024)


def _sorted_cutoff(sorted_probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(cutoff [B, 1], its position [B, 1]) for probabilities sorted in descending order: the first one at which
    their running sum reaches top_p."""
    at = (sorted_probs.cumsum(dim=-1) < top_p).sum(dim=-1, keepdim=True)
    return sorted_probs.gather(-1, at.clamp(max=sorted_probs.shape[-1] - 1)), at


def nucleus_cutoff(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs [B, V] -> [B, 1]: the smallest probability top-p keeps in each row, exactly as a full sort finds it.

    The likeliest NUCLEUS_CANDIDATES[0] come first, then more for rows whose nucleus they do not hold, and a row whose
    nucleus none holds (a nearly flat distribution) takes the full sort. Same running sums in the same order, so the
    same cutoff either way.
    """
    cutoff = probs.new_zeros(probs.shape[0], 1)
    held = torch.zeros_like(cutoff, dtype=torch.bool)  # rows whose cutoff is found
    for count in NUCLEUS_CANDIDATES:
        count = min(count, probs.shape[-1])
        found, at = _sorted_cutoff(probs.topk(count, dim=-1).values, top_p)
        cutoff, held = torch.where(held, cutoff, found), held | (at < count)
        if bool(held.all()):
            return cutoff
    full, _ = _sorted_cutoff(probs.sort(dim=-1, descending=True).values, top_p)
    return torch.where(held, cutoff, full)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of unnormalised probabilities [B, V] -> [B], by inverting the running sum.

    Much faster on a CPU than torch.multinomial over a vocabulary-sized row.
    """
    cdf = probs.double().cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
    picked = torch.searchsorted(cdf, u, right=True)
    if bool((picked == cdf.shape[-1]).any()):  # u rounded up to the total: the last token with any probability
        picked = torch.minimum(picked, probs.shape[-1] - 1 - (probs.flip(-1) > 0).int().argmax(dim=-1, keepdim=True))
    return picked.squeeze(-1)
