"""The `Encoder` interface: raw inputs in, a feature sequence [B, L, D] out.

An encoder owns its preprocessing so that callers never need to know which image processor or
feature extractor goes with which weights.
"""
from __future__ import annotations

import os
from abc import ABCMeta, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import torch
from threadpoolctl import threadpool_limits
from torch import nn

from modrwkv.sources import SourceUnavailable

Modality = Literal["image", "audio", "series"]


class Encoder(nn.Module, metaclass=ABCMeta):
    """A modality encoder. Subclasses set `name`, `modality` and `input_names` and implement the abstract methods."""

    name: ClassVar[str]
    modality: ClassVar[Modality]
    # The keys of `preprocess`'s batch that `forward` takes; other keys (e.g. a series' normalisation
    # statistics) are for the caller, such as a forecasting head that de-normalises.
    input_names: ClassVar[tuple[str, ...]]
    # what `encoders.build` loaded the weights from (a Hub id, a folder, "packaged:<name>"); None for random weights
    source: str | None = None
    # where weights that a self-contained checkpoint carries came from (its config's `converted_from`), for the record
    converted_from: str | None = None

    @property
    @abstractmethod
    def output_dim(self) -> int:
        """D, the width of each feature vector."""

    @property
    def max_seconds(self) -> float | None:
        """The longest audio one forward pass covers (longer input is cut); None where there is no fixed window."""
        return None

    @abstractmethod
    def preprocess(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """A batch of tensors (on the CPU) from raw inputs: paths, PIL images, arrays."""

    @abstractmethod
    def forward(self, **tensors: torch.Tensor) -> torch.Tensor:
        """Features [B, L, D] from the `input_names` tensors of a batch."""

    @torch.no_grad()
    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        """`preprocess` then `forward`, on the encoder's device and in its dtype."""
        return self(**self._inputs(items))

    @torch.no_grad()
    def encode_each(self, items: Sequence[Any]) -> list[torch.Tensor | Exception]:
        """Each input's features [1, L, D] as `encode([item])` gives them, in as few forward passes as that allows:
        inputs whose preprocessed tensors have the same shapes go through together (images of one size, audio
        windows). An input that cannot be used gets its exception in its place; the others are encoded."""
        results: list[torch.Tensor | Exception | None] = []
        groups: dict[tuple, list[tuple[int, dict[str, torch.Tensor]]]] = {}
        for i, item in enumerate(as_batch(items)):
            results.append(None)
            try:
                inputs = self._inputs([item])
            except Exception as e:  # noqa: BLE001 - an unreadable input fails alone, whatever its reader raised
                results[i] = e
                continue
            groups.setdefault(tuple((k, tuple(v.shape)) for k, v in inputs.items()), []).append((i, inputs))
        for members in groups.values():
            batch = {key: torch.cat([inputs[key] for _, inputs in members]) for key in members[0][1]}
            for (i, _), features in zip(members, self.rows(batch)):
                results[i] = features
        return results

    def rows(self, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Each row's features [1, L, D] from a batch's `input_names` tensors, as `forward` gives them for the row
        alone; encoders whose `forward` cuts a batch to its longest input override it."""
        return list(self(**inputs).split(1))

    def _inputs(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """`preprocess`'s `input_names` tensors on the encoder's device and in its dtype.

        Preprocessing's NumPy runs on one BLAS thread: its small matrix products gain nothing from more, and
        OpenBLAS's threads stay spinning after each, taking the cores from PyTorch's forward pass."""
        with threadpool_limits(limits=1, user_api="blas"):  # each BLAS loaded by now (~0.4 ms)
            batch = self.preprocess(items)
        parameter = next(self.parameters())
        return {
            key: batch[key].to(parameter.device, parameter.dtype if batch[key].is_floating_point() else None)
            for key in self.input_names
            if key in batch
        }

    @classmethod
    @abstractmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> Encoder:
        """Weights and preprocessing settings from a Hugging Face repo id or a local folder."""

    @classmethod
    @abstractmethod
    def random(cls, config: Any = None, **kwargs: Any) -> Encoder:
        """Random weights from `config`, by default a tiny one so that tests run in milliseconds."""

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments that `from_pretrained` needs besides the source to load this encoder as it is now
        (e.g. a shortened window); none by default."""
        return {}

    def architecture(self) -> dict[str, Any]:
        """JSON-able keyword arguments with which `random(**...)` rebuilds this encoder's modules (not its weights).

        Here: the wrapped transformers model's config; encoders without one override it.
        """
        skip = {"transformers_version", "architectures", "model_type", "dtype", "torch_dtype"}
        return {k: v for k, v in self.model.config.to_dict().items() if k not in skip and not k.startswith("_")}


def as_batch(items: Sequence[Any]) -> list[Any]:
    """`items` as a non-empty list; a lone path is refused, since a string is also a sequence (of characters)."""
    if isinstance(items, (str, bytes, os.PathLike)):
        raise TypeError(f"pass a list of inputs, e.g. [{items!r}], not a single one")
    batch = list(items)
    if not batch:
        raise ValueError("the batch is empty: pass at least one input")
    return batch


@contextmanager
def hub_errors(source: str | os.PathLike) -> Iterator[None]:
    """Turn transformers' OSError for a repo that is neither local nor fetchable into `SourceUnavailable`."""
    try:
        yield
    except OSError as e:
        raise SourceUnavailable(
            f"could not load encoder weights from '{source}': not a local folder, and the Hugging Face Hub "
            f"is unreachable or has no such repo (downloads are cached; set HF_HUB_OFFLINE=1 to use the cache). ({e})"
        ) from e
