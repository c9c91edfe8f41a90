"""A WaveNet-style encoder for time series (van den Oord et al., 2016), written here: no package ships one.

Each series is normalised per channel (its mean and std are returned with the batch so that a
forecasting head can map predictions back to the original scale), embedded point-wise, and passed
through causal dilated convolutions with gated activations. Dilations double per block, so the
receptive field grows exponentially with depth while every output sees only its past.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from modrwkv.encoders import register
from modrwkv.encoders.base import Encoder, as_batch
from modrwkv.encoders.media import MediaError, load_series

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
NORM_EPS = 1e-5  # keeps a constant channel (std 0) finite after normalisation


@dataclass
class WaveNetConfig:
    in_channels: int = 1  # variables per time step
    dim: int = 64  # D: embedding, residual and output width
    layers: int = 8  # dilations 1, 2, 4, ..., 2^(layers-1)
    kernel_size: int = 2


class GatedBlock(nn.Module):
    """x -> x + res(tanh(f) * sigmoid(g)), with a skip output; [f; g] from one causal dilated convolution."""

    def __init__(self, dim: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(dim, 2 * dim, kernel_size, dilation=dilation)
        self.res = nn.Conv1d(dim, dim, 1)
        self.skip = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, g = self.conv(F.pad(x, (self.left_pad, 0))).chunk(2, dim=1)  # padding on the left only: causal
        h = torch.tanh(f) * torch.sigmoid(g)
        return x + self.res(h), self.skip(h)


@register
class WaveNetEncoder(Encoder):
    """Features [B, T, D], one per time step, each depending only on that step and the ones before it."""

    name = "wavenet"
    modality = "series"
    input_names = ("values",)

    def __init__(self, config: WaveNetConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Linear(config.in_channels, config.dim)
        self.blocks = nn.ModuleList(GatedBlock(config.dim, config.kernel_size, 2**i) for i in range(config.layers))
        self.out = nn.Conv1d(config.dim, config.dim, 1)

    @property
    def output_dim(self) -> int:
        return self.config.dim

    @property
    def receptive_field(self) -> int:
        """How many time steps (the current one included) each output depends on."""
        return 1 + (self.config.kernel_size - 1) * (2**self.config.layers - 1)

    def preprocess(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """From series [T] or [T, channels]: `values` [B, T, C] normalised and right-padded with zeros,
        `mean` and `std` [B, 1, C] (values * std + mean restores the input), `lengths` [B].

        Right padding leaves the outputs at real time steps unchanged, since the convolutions are causal.
        """
        series = []
        for index, item in enumerate(as_batch(items)):
            array = load_series(item)
            array = array.reshape(len(array), -1)
            if array.shape[1] != self.config.in_channels:
                raise MediaError(
                    f"series {index} has {array.shape[1]} channel(s); this encoder takes {self.config.in_channels}"
                )
            if len(array) < self.receptive_field:
                raise MediaError(
                    f"series {index} has {len(array)} time steps, fewer than the encoder's receptive field of "
                    f"{self.receptive_field}: give at least {self.receptive_field} points"
                )
            series.append(torch.from_numpy(array))
        lengths = torch.tensor([len(s) for s in series])
        mean = torch.stack([s.mean(0, keepdim=True) for s in series])
        std = torch.stack([(s.var(0, unbiased=False, keepdim=True) + NORM_EPS).sqrt() for s in series])
        values = nn.utils.rnn.pad_sequence(series, batch_first=True)
        mask = (torch.arange(values.shape[1]) < lengths[:, None])[..., None]
        return {"values": ((values - mean) / std) * mask, "mean": mean, "std": std, "lengths": lengths}

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        x = self.embed(values).transpose(1, 2)  # [B, D, T]: Conv1d wants channels first
        skips = torch.zeros_like(x)
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        return self.out(F.relu(skips)).transpose(1, 2)

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write `config.json` and `model.safetensors`, which `from_pretrained(folder)` reads back."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(json.dumps({"encoder": self.name, **asdict(self.config)}, indent=2))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, folder / WEIGHTS_FILE)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs: Any) -> WaveNetEncoder:
        """From a folder written by `save_pretrained`; `kwargs` may hold `dtype` and `device`."""
        folder = Path(source)
        if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(
                f"'{folder}' is not a WaveNet encoder folder: it needs {CONFIG_FILE} and {WEIGHTS_FILE}"
            )
        fields = json.loads((folder / CONFIG_FILE).read_text())
        if fields.pop("encoder", cls.name) != cls.name:
            raise ValueError(f"'{folder}' holds a different encoder, not {cls.name}")
        encoder = cls(WaveNetConfig(**fields))
        encoder.load_state_dict(load_file(folder / WEIGHTS_FILE))
        return encoder.to(**kwargs).eval()

    def architecture(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def random(cls, config: WaveNetConfig | None = None, **kwargs: Any) -> WaveNetEncoder:
        """Random weights; by default D = 32, 4 blocks, kernel 2 (receptive field 16). `kwargs` set config fields."""
        fields = asdict(config) if config is not None else {"dim": 32, "layers": 4}
        return cls(WaveNetConfig(**{**fields, **kwargs})).eval()
