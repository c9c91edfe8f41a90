"""From encoder features to RWKV-7 input embeddings: a 1D-conv sequence compressor, then an MLP adapter.

The paper's generic form (ModRWKV, arXiv 2505.14505): `Conv1d(D, D, k, s)` over the sequence ((k, s) = (0, 0)
means no conv; the paper tries (3, 2), (4, 3), (5, 4)), then `Linear(D, r*D) -> ReLU -> Linear(r*D, C)`, r = 4.

The official code (github.com/JL-er/WorldRWKV; Joluck/WorldRWKV is the same history, continued) has these variants,
all expressible with `AdapterConfig`:

- vision, paper era (commit f15e179, world/encoder/siglip_encoder.py and clip_encoder.py `VisualAdapter`):
  `Linear(D, 2C) -> ReLU -> Linear(2C, C)`, output `x + LayerNorm(x)`; no conv.
- vision, later (d1f6c8a "conv1d & adapter 4x"; HEAD world/projector/test.py, wlm/projector/test.py
  `VisualAdapter`): hidden 4C; optional `Conv1d(D, D, k=3, s=2, bias=False)` first (`use_conv`, off by default).
- audio (f15e179 world/encoder/speech_encoder.py and whisper_encoder.py `SpeechAdapter`, unchanged at HEAD):
  `Conv1d(D, 2C, k=3, s=2, p=2)` with bias, then `Linear(2C, 2C) -> ReLU -> Linear(2C, C)`; no LayerNorm.
- Joluck/WorldRWKV c07d1a8 lg_train/projector/modules.py `VlProj`: `Conv1d(D, D, k=6, s=5, bias=False)`, then
  `Linear(D, 4C) -> GELU -> Linear(4C, C)`; no LayerNorm.

Parameter names are those of the later official modules, so their keys load after stripping the prefix only:

    this module          later official (`proj.` / `model.proj.`)   paper era (`modality.world_encoder.adapter.`)
    conv.weight, .bias   conv.weight (no bias)                      conv.weight, conv.bias (audio)
    mlp.0.weight, .bias  mlp.0.weight, .bias                        proj.0.weight, .bias
    mlp.2.weight, .bias  mlp.2.weight, .bias                        proj.2.weight, .bias
    pre_norm.weight, .bias  pre_norm.weight, .bias                  pre_norm.weight, .bias (vision)

`modrwkv.multimodal.official.split_official_state_dict` does that renaming.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}  # transformers' GELUActivation (VlProj) is exact-erf nn.GELU


def _check_conv(kernel: int, stride: int, padding: int, out_dim: int | None, bias: bool) -> None:
    if kernel < 0 or stride < 0 or padding < 0:
        raise ValueError(f"kernel, stride and padding must be >= 0, got ({kernel}, {stride}, {padding})")
    if kernel == 0 and (stride or padding or out_dim is not None or bias):
        raise ValueError(f"kernel 0 means no conv: stride, padding, conv out_dim and bias must be unset, got "
                         f"stride={stride}, padding={padding}, out_dim={out_dim}, bias={bias}")
    if kernel > 0 and stride == 0:
        raise ValueError(f"a conv of kernel {kernel} needs a stride >= 1")


def _conv_length(length: int, kernel: int, stride: int, padding: int) -> int:
    if kernel == 0:
        return length
    if length + 2 * padding < kernel:
        raise ValueError(f"a sequence of {length} features is shorter than the compressor's kernel "
                         f"({kernel}, padding {padding})")
    return (length + 2 * padding - kernel) // stride + 1


class SequenceCompressor(nn.Module):
    """Conv1d along the sequence of `[B, L, D]` features (stride s shortens L about s times); identity when kernel == 0.

    The weight is a parameter of this module itself (not of an inner nn.Conv1d) so that it is named `conv.weight`
    inside an adapter, exactly as in the official checkpoints.
    """

    def __init__(
        self, dim: int, kernel: int, stride: int, padding: int = 0, out_dim: int | None = None, bias: bool = False
    ):
        super().__init__()
        _check_conv(kernel, stride, padding, out_dim, bias)
        self.dim, self.kernel, self.stride, self.padding = dim, kernel, stride, padding
        self.out_dim = dim if out_dim is None else out_dim
        if kernel == 0:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
            return
        self.weight = nn.Parameter(torch.empty(self.out_dim, dim, kernel))
        self.bias = nn.Parameter(torch.empty(self.out_dim)) if bias else None
        # nn.Conv1d's default initialisation
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(dim * kernel)
            nn.init.uniform_(self.bias, -bound, bound)

    def output_length(self, length: int) -> int:
        """floor((L + 2p - k) / s) + 1, as Conv1d; L itself without a conv."""
        return _conv_length(length, self.kernel, self.stride, self.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            return x
        self.output_length(x.shape[1])  # a clear error for too-short inputs instead of conv1d's
        y = F.conv1d(x.transpose(1, 2), self.weight, self.bias, stride=self.stride, padding=self.padding)
        return y.transpose(1, 2)

    def extra_repr(self) -> str:
        if self.kernel == 0:
            return "identity"
        return (f"{self.dim}, {self.out_dim}, kernel={self.kernel}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}")


class MLPAdapter(nn.Module):
    """`Linear(in, hidden) -> act -> Linear(hidden, out)`; with `residual_norm`, the output is `y + LayerNorm(y)`.

    hidden defaults to `ratio * in_dim` (the paper's r*D). The official code sizes it from the LLM width instead
    (2C paper era, 4C later), so official configs pass `hidden` explicitly. `residual_norm` is the official
    `pre_norm` (a LayerNorm over C whose output is added to, not substituted for, the MLP output).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        ratio: int = 4,
        hidden: int | None = None,
        residual_norm: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        hidden = ratio * in_dim if hidden is None else hidden
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), _ACTIVATIONS[activation](), nn.Linear(hidden, out_dim))
        self.pre_norm = nn.LayerNorm(out_dim) if residual_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(x)
        return y if self.pre_norm is None else y + self.pre_norm(y)


@dataclass(frozen=True)
class AdapterConfig:
    """Everything that fixes a `ModalityAdapter`'s shapes and computation; JSON-serialisable.

    in_dim: encoder width D; out_dim: RWKV-7 width C. kernel/stride/padding: the compressor ((0, 0, 0) = none);
    conv_out_dim: its channels (default D; the official audio adapter uses 2C); conv_bias: whether it has a bias.
    hidden_dim: the MLP's hidden width (default ratio * its input width, the paper's r*D). pre_norm: output
    `y + LayerNorm(y)`. activation: "relu" (all released checkpoints) or "gelu".
    """

    in_dim: int
    out_dim: int
    kernel: int = 0
    stride: int = 0
    padding: int = 0
    conv_out_dim: int | None = None
    conv_bias: bool = False
    ratio: int = 4
    hidden_dim: int | None = None
    pre_norm: bool = False
    activation: str = "relu"

    def __post_init__(self) -> None:
        _check_conv(self.kernel, self.stride, self.padding, self.conv_out_dim, self.conv_bias)
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")

    @classmethod
    def paper(cls, in_dim: int, out_dim: int, kernel: int = 3, stride: int = 2, ratio: int = 4) -> AdapterConfig:
        """The paper's generic form: Conv1d(D, D, k, s) then Linear(D, rD) -> ReLU -> Linear(rD, C)."""
        return cls(in_dim=in_dim, out_dim=out_dim, kernel=kernel, stride=stride, ratio=ratio)

    @property
    def mlp_in_dim(self) -> int:
        return self.conv_out_dim or self.in_dim

    @property
    def mlp_hidden_dim(self) -> int:
        return self.ratio * self.mlp_in_dim if self.hidden_dim is None else self.hidden_dim

    def output_length(self, length: int) -> int:
        """How many embeddings L encoder features become."""
        return _conv_length(length, self.kernel, self.stride, self.padding)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> AdapterConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown AdapterConfig fields: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> AdapterConfig:
        return cls.from_dict(json.loads(text))


class ModalityAdapter(MLPAdapter):
    """Compressor then MLP adapter: `[B, L, D]` encoder features -> `[B, L', C]` RWKV-7 input embeddings.

    Subclasses MLPAdapter so that its parameters sit at the top level (`mlp.*`, `pre_norm.*`) beside `conv.*`,
    the names of the official checkpoints (see the module docstring).
    """

    def __init__(self, config: AdapterConfig):
        super().__init__(config.mlp_in_dim, config.out_dim, ratio=config.ratio, hidden=config.mlp_hidden_dim,
                         residual_norm=config.pre_norm, activation=config.activation)
        self.config = config
        self.conv = SequenceCompressor(config.in_dim, config.kernel, config.stride, config.padding,
                                       out_dim=config.conv_out_dim, bias=config.conv_bias)

    def output_length(self, length: int) -> int:
        return self.conv.output_length(length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.conv(x))
