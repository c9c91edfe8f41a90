"""ModRWKV: modality encoders, each followed by a compressor + MLP adapter, in front of an RWKV-7 backbone.

input -> encoder [B, L, D] -> adapter [B, L', C] -> joined with the text embeddings -> RWKV7.forward_embeds.
Joining follows the official releases: "prepend" (paper era: modality embeddings before the prompt) or
"placeholder" (later: they replace the placeholder tokens, IMAGE_PAD_ID, in the prompt, one per embedding).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modrwkv import encoders
from modrwkv.encoders.base import Encoder
from modrwkv.forecast.head import ForecastHead, ForecastHeadConfig
from modrwkv.multimodal.adapter import AdapterConfig, ModalityAdapter
from modrwkv.multimodal.official import (
    IMAGE_PAD_ID,
    RELEASES,
    TURN_END,
    UPSTREAM_DECODING,
    UPSTREAM_TURN_END,
    adapter_config_from_official,
    chat_template_in,
    release_encoder,
    release_of,
    split_official_state_dict,
    usable_adapter_tensors,
    weights_source,
)
from modrwkv.rwkv7.checkpoint import CheckpointError, read_state_dict
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.quantization import Int8Linear
from modrwkv.rwkv7.state import RWKVState
from modrwkv.sources import resolve_source

PLACEMENTS = ("prepend", "placeholder")


def _load_weights(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """`module.load_state_dict(state, strict=True)`, a mismatch raised as a CheckpointError naming `what`."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors: the checkpoint is at fault, not the code
        detail = " ".join(str(e).split())
        raise CheckpointError(f"the {what}'s weights do not match the checkpoint's config: {detail}") from e


@dataclass(frozen=True)
class ModalitySpec:
    encoder: str  # registry name, e.g. "siglip2"
    architecture: dict[str, Any]  # encoders.build(encoder, **architecture) rebuilds its modules
    adapter: AdapterConfig
    # where the (frozen, pretrained) encoder's weights come from, e.g. "packaged:dinov2_small" or a Hub id: a
    # checkpoint then refers to them instead of carrying a copy; None: the weights are in the checkpoint
    source: str | None = None
    # encoders.build options loaded with `source` (Encoder.load_options(), e.g. {"window_seconds": 8} for Whisper);
    # beside `converted_from`, the options those weights were loaded with
    options: dict[str, Any] = field(default_factory=dict)
    # the source that weights now held in the checkpoint were converted from (see save_pretrained's self_contained),
    # kept for the record only: loading never reads it
    converted_from: str | None = None


@dataclass(frozen=True)
class ModRWKVConfig:
    backbone: RWKV7Config
    modalities: dict[str, ModalitySpec] = field(default_factory=dict)  # keyed by modality: "image", "audio", "series"
    placement: str = "prepend"
    placeholder_id: int = IMAGE_PAD_ID
    forecast: ForecastHeadConfig | None = None
    # decoding defaults the pipelines apply over their own (GenerationConfig fields), e.g. a release's upstream
    # settings; {}: the pipelines' defaults
    generation: dict[str, Any] = field(default_factory=dict)
    # what follows an answer before the next user turn: the stop token, as this project's trainer writes turns;
    # "" for official checkpoints, whose inference never feeds the sampled stop token back
    turn_end: str = TURN_END
    # a Hugging Face chat template (Jinja) that lays out the turns instead of the placement's own prompt
    chat_template: str | None = None

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")

    def to_dict(self) -> dict:
        return {
            "architecture": "modrwkv",
            "backbone": self.backbone.to_dict(),
            "placement": self.placement,
            "placeholder_id": self.placeholder_id,
            "modalities": {
                key: {"encoder": m.encoder, "architecture": m.architecture, "adapter": m.adapter.to_dict()}
                | ({"source": m.source} if m.source else {})
                | ({"options": m.options} if m.options else {})
                | ({"converted_from": m.converted_from} if m.converted_from else {})
                for key, m in self.modalities.items()
            },
            "forecast": self.forecast.to_dict() if self.forecast else None,
        } | ({"generation": self.generation} if self.generation else {}) | (
            {"turn_end": self.turn_end} if self.turn_end != TURN_END else {}) | (
            {"chat_template": self.chat_template} if self.chat_template else {})

    @classmethod
    def from_dict(cls, d: dict) -> ModRWKVConfig:
        if d.get("architecture") != "modrwkv":
            raise CheckpointError(
                f"expected a ModRWKV config.json (architecture 'modrwkv'), found {d.get('architecture')!r}"
            )
        modalities = {
            key: ModalitySpec(m["encoder"], m["architecture"], AdapterConfig.from_dict(m["adapter"]), m.get("source"),
                              m.get("options", {}), m.get("converted_from"))
            for key, m in d["modalities"].items()
        }
        forecast = ForecastHeadConfig(**d["forecast"]) if d.get("forecast") else None
        return cls(RWKV7Config(**d["backbone"]), modalities, d["placement"], d["placeholder_id"], forecast,
                   d.get("generation", {}), d.get("turn_end", TURN_END), d.get("chat_template"))


class ModRWKV(nn.Module):
    """RWKV-7 with any number of modality encoders attached (one per modality)."""

    def __init__(
        self,
        llm: RWKV7,
        encoders_by_modality: dict[str, Encoder],
        adapters: dict[str, ModalityAdapter],
        placement: str = "prepend",
        placeholder_id: int = IMAGE_PAD_ID,
        forecast_head: ForecastHead | None = None,
        generation: dict[str, Any] | None = None,
        turn_end: str = TURN_END,
        chat_template: str | None = None,
    ):
        """`generation`, `turn_end` and `chat_template`: see ModRWKVConfig."""
        super().__init__()
        if forecast_head is not None and "series" not in encoders_by_modality:
            raise ValueError("a forecasting head needs a time-series encoder")
        if set(encoders_by_modality) != set(adapters):
            raise ValueError(
                f"one adapter per encoder: encoders {sorted(encoders_by_modality)}, adapters {sorted(adapters)}"
            )
        for key, enc in encoders_by_modality.items():
            cfg = adapters[key].config
            if cfg.in_dim != enc.output_dim or cfg.out_dim != llm.config.n_embd:
                raise ValueError(
                    f"{key} adapter maps {cfg.in_dim} -> {cfg.out_dim}, but the encoder gives {enc.output_dim} "
                    f"and the backbone takes {llm.config.n_embd}"
                )
        self.llm = llm
        self.encoders = nn.ModuleDict(encoders_by_modality)
        self.adapters = nn.ModuleDict(adapters)
        self.forecast_head = forecast_head
        self.notes: list[str] = []  # what loading had to assume or leave out (official checkpoints), for the record
        self.config = ModRWKVConfig(
            llm.config,
            {k: ModalitySpec(e.name, e.architecture(), adapters[k].config, e.source, e.load_options(), e.converted_from)
             for k, e in encoders_by_modality.items()},
            placement,
            placeholder_id,
            forecast_head.config if forecast_head is not None else None,
            dict(generation or {}),
            turn_end,
            chat_template,
        )

    @classmethod
    def build(
        cls,
        llm: RWKV7,
        encoder_list: Sequence[Encoder],
        adapter: AdapterConfig | None = None,
        placement: str = "prepend",
        forecast_horizon: int | None = None,
        forecast_context: int | None = None,
    ) -> ModRWKV:
        """Attach encoders to a backbone with fresh adapters (the paper's conv (3, 2) + MLP r = 4 by default),
        and a forecasting head predicting `forecast_horizon` steps when a time-series encoder is among them
        (`forecast_context`: the history length it will be trained on, see `ForecastHeadConfig.context`)."""
        adapters = {}
        for enc in encoder_list:
            cfg = adapter or AdapterConfig.paper(enc.output_dim, llm.config.n_embd)
            cfg = dataclasses.replace(cfg, in_dim=enc.output_dim, out_dim=llm.config.n_embd)
            adapters[enc.modality] = ModalityAdapter(cfg)
        head = None
        if forecast_horizon is not None:
            series = next((e for e in encoder_list if e.modality == "series"), None)
            if series is None:
                raise ValueError("forecast_horizon needs a time-series encoder (e.g. encoders.build('wavenet'))")
            channels = series.architecture().get("in_channels", 1)
            head = ForecastHead(
                ForecastHeadConfig(llm.config.n_embd, channels, forecast_horizon, context=forecast_context)
            )
        return cls(llm, {e.modality: e for e in encoder_list}, adapters, placement, forecast_head=head)

    # -- inputs ---------------------------------------------------------------------------------

    def embed(self, modality: str, items: Sequence[Any]) -> torch.Tensor:
        """Adapter output for a batch of inputs of one modality: [B, L', C] in the backbone's width."""
        encoder = self._encoder(modality)
        with torch.no_grad():
            return self.adapters[modality](encoder.encode(items))

    def _encoder(self, modality: str) -> Encoder:
        if modality not in self.encoders:
            raise ValueError(
                f"no {modality} encoder attached; this model reads {', '.join(self.encoders) or 'text only'}"
            )
        return self.encoders[modality]

    def join(self, text_ids: Sequence[int] | torch.Tensor, modality_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """One sequence of input embeddings [1, T, C]: the prompt's token embeddings with the modality's placed
        before them ("prepend") or at the prompt's placeholder tokens ("placeholder")."""
        ids = torch.as_tensor(text_ids, dtype=torch.long).reshape(-1)
        if modality_embeds is not None and self.config.placement == "placeholder":
            return self.fill(ids, modality_embeds)
        if (
            modality_embeds is None
            and self.config.placement == "placeholder"
            and (ids == self.config.placeholder_id).any()
        ):
            raise ValueError("the prompt has placeholders but no modality input was given")
        text = self.llm.emb(ids.to(self.llm.device)).unsqueeze(0)
        if modality_embeds is None:
            return text
        mod = modality_embeds.reshape(1, -1, modality_embeds.shape[-1]).to(text.dtype)
        return torch.cat((mod, text), dim=1)

    def fill(self, text_ids: Sequence[int] | torch.Tensor, modality_embeds: torch.Tensor) -> torch.Tensor:
        """Token embeddings of `text_ids` [1, T, C] with the placeholder positions replaced, in order, by
        `modality_embeds` (all rows of all batch items, [*, L, C])."""
        ids = torch.as_tensor(text_ids, dtype=torch.long).reshape(-1)
        text = self.llm.emb(ids.to(self.llm.device)).unsqueeze(0)
        mod = modality_embeds.reshape(-1, modality_embeds.shape[-1]).to(text.dtype)
        slots = ids == self.config.placeholder_id
        if int(slots.sum()) != mod.shape[0]:
            raise ValueError(
                f"the prompt has {int(slots.sum())} placeholder tokens but the modality input gives {mod.shape[0]} "
                "embeddings: put one placeholder per embedding (e.g. one block per image)"
            )
        text[0, slots.to(text.device)] = mod
        return text

    def forward(
        self,
        text_ids: Sequence[int] | torch.Tensor,
        modality_embeds: torch.Tensor | None = None,
        state: RWKVState | None = None,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, RWKVState]:
        return self.llm.forward_embeds(self.join(text_ids, modality_embeds), state, last_only=last_only)

    # -- weights --------------------------------------------------------------------------------

    def save_pretrained(
        self,
        folder: str | Path,
        dtype: torch.dtype | None = None,
        encoder_dtype: torch.dtype | None = None,
        self_contained: bool = False,
    ) -> Path:
        """`config.json` + `model.safetensors` (llm.* in BlinkDL names, encoders.<modality>.*, adapters.<modality>.*,
        forecast_head.*). An encoder built from a source (`encoders.build(name, source)`) is saved as that
        reference in config.json, not as a copy of its weights. `dtype` (e.g. torch.bfloat16) stores the floating
        tensors in that type, halving a bundled model's size; loading converts them to the dtype asked for.

        self_contained: store the weights of encoders built from a source too, so that the checkpoint loads where
        that source cannot be had: a Hugging Face Space installs requirements.txt only, not the pip packages that
        "packaged:" weights come from, and no hub may be reachable. config.json then names no source for them (it
        records it as `converted_from`), and loading rebuilds them as `encoders.build(name, **architecture)`, whose
        preprocessing is the family's default: the packaged encoders' own, not always a Hub folder's.
        encoder_dtype: the type of the encoders' floating tensors (default: `dtype`), e.g. torch.float16 to keep a
        pretrained encoder's precision in half the bytes where bf16 would round its weights more coarsely.
        """
        from safetensors.torch import save_file

        if any(isinstance(m, Int8Linear) for m in self.modules()):
            raise ValueError(
                "an int8 model cannot be saved as a checkpoint: save the fp32/bf16 one, quantise at load time"
            )
        config = self.config
        if self_contained:
            config = dataclasses.replace(config, modalities={
                key: dataclasses.replace(m, source=None, converted_from=m.source) if m.source else m
                for key, m in config.modalities.items()
            })

        def stored(prefix: str, module: nn.Module, as_dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
            cast = as_dtype is not None
            return {f"{prefix}.{k}": (v.to(as_dtype) if cast and v.is_floating_point() else v).contiguous()
                    for k, v in module.state_dict().items()}

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = stored("llm", self.llm, dtype)
        for key, adapter in self.adapters.items():
            tensors |= stored(f"adapters.{key}", adapter, dtype)
            if not config.modalities[key].source:
                tensors |= stored(f"encoders.{key}", self.encoders[key], encoder_dtype or dtype)
        if self.forecast_head is not None:
            tensors |= stored("forecast_head", self.forecast_head, dtype)
        save_file(tensors, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        return folder

    @classmethod
    def from_pretrained(
        cls,
        src: str | Path,
        dtype: str | torch.dtype = "fp32",
        device: str | torch.device = "cpu",
        encoder: Encoder | None = None,
        pack_weights: bool = True,
    ) -> ModRWKV:
        """This project's layout (config.json + safetensors) or an official ModRWKV/WorldRWKV checkpoint.

        Official checkpoints name their encoder by Hugging Face id (fetched with huggingface_hub, cached);
        pass `encoder=` to use one already built (e.g. offline, or a local copy).
        pack_weights: as in `RWKV7.from_state_dict` (inference-only CPU layouts; pass False to train).
        """
        path = resolve_source(weights_source(str(src)) if isinstance(src, str) else src)
        config_file = path / "config.json" if path.is_dir() else None
        if config_file is not None and config_file.exists():
            try:
                meta = json.loads(config_file.read_text())
            except json.JSONDecodeError as e:  # else the message would not say which file
                raise CheckpointError(f"{config_file} is not valid JSON ({e})") from e
            if meta.get("architecture") == "modrwkv":
                return cls._from_own(ModRWKVConfig.from_dict(meta), read_state_dict(path), dtype, device, pack_weights)
        template = chat_template_in(path) if path.is_dir() else None
        return cls._from_official(str(src), read_state_dict(path), dtype, device, encoder, pack_weights, template)

    @classmethod
    def _from_own(
        cls, config: ModRWKVConfig, state: dict, dtype: str | torch.dtype, device: str | torch.device,
        pack_weights: bool,
    ) -> ModRWKV:
        backbone = {k[4:]: v for k, v in state.items() if k.startswith("llm.")}
        llm = RWKV7.from_state_dict(backbone, dtype=dtype, device=device, pack_weights=pack_weights)
        encs, adapters = {}, {}
        for key, spec in config.modalities.items():
            if spec.source:  # pretrained weights kept where they came from
                encs[key] = encoders.build(spec.encoder, spec.source, **spec.options).to(device).eval()
            else:
                encs[key] = encoders.build(spec.encoder, **spec.architecture)
                encs[key].converted_from = spec.converted_from
            adapters[key] = ModalityAdapter(spec.adapter)
            parts = {"adapters": adapters[key]} | ({} if spec.source else {"encoders": encs[key]})
            for prefix, module in parts.items():
                part = {
                    k[len(prefix) + len(key) + 2 :]: v for k, v in state.items() if k.startswith(f"{prefix}.{key}.")
                }
                _load_weights(module, part, f"{key} {prefix[:-1]}")
                module.to(device).eval()
        head = None
        if config.forecast is not None:
            head = ForecastHead(config.forecast)
            head_state = {k[14:]: v for k, v in state.items() if k.startswith("forecast_head.")}
            _load_weights(head, head_state, "forecast head")
            head.to(device).eval()
        return cls(llm, encs, adapters, config.placement, config.placeholder_id, head, config.generation,
                   config.turn_end, config.chat_template)

    @classmethod
    def _from_official(
        cls, src: str, state: dict, dtype: str | torch.dtype, device: str | torch.device, encoder: Encoder | None,
        pack_weights: bool, chat_template: str | None = None,
    ) -> ModRWKV:
        layout, backbone, adapter_state, encoder_state = split_official_state_dict(state)
        release = release_of(src)
        notes = [f"layout ({layout}); " + (f"release {src}" if release is not None else "not a listed release")]
        if encoder is None:
            if release is None:
                raise CheckpointError(
                    f"'{src}' is an official layout ({layout}) but not a known release; pass encoder= "
                    f"(known releases: {', '.join(RELEASES)})"
                )
            name, source = release_encoder(release, encoder_state)
            encoder = encoders.build(name, source, **dict(release.encoder_options))
            if name != release.encoder:
                notes.append(f"the file holds {name} encoder tensors: {name} instead of the release's "
                             f"{release.encoder}")
            notes.append(f"encoder {name} from {source}" + (", its weights then replaced by the file's"
                                                           if encoder_state else " (the file holds no encoder)"))
            if release.encoder_options:
                notes.append("encoder options " + ", ".join(f"{k}={v}" for k, v in release.encoder_options))
        else:
            notes.append(f"encoder {encoder.name} given by the caller")
        if encoder_state:
            _load_weights(encoder.model, encoder_state, "encoder")
        llm = RWKV7.from_state_dict(backbone, dtype=dtype, device=device, pack_weights=pack_weights)
        adapter_config = adapter_config_from_official(adapter_state)
        adapter = ModalityAdapter(adapter_config)
        usable = usable_adapter_tensors(adapter_state, adapter_config)
        _load_weights(adapter, usable, "adapter")
        if len(usable) < len(adapter_state):
            notes.append("unused adapter tensors left out: " + ", ".join(sorted(set(adapter_state) - set(usable))))
        placement = release.placement if release is not None else ("placeholder" if layout == "c" else "prepend")
        if release is None:
            notes.append(f"placement {placement}, inferred from the layout")
        if chat_template is not None:
            notes.append("turns laid out by the repo's chat template; decoding greedy")
        else:
            notes.append("decoding greedy, no stop token fed before a follow-up (upstream's inference)")
        model = cls(
            llm, {encoder.modality: encoder.to(device).eval()}, {encoder.modality: adapter.to(device).eval()},
            placement, generation=UPSTREAM_DECODING, turn_end=UPSTREAM_TURN_END, chat_template=chat_template,
        )
        model.notes = notes
        return model


@torch.no_grad()
def embed_each(encoder: Encoder, adapter: nn.Module, items: Sequence[Any]) -> list[torch.Tensor | Exception]:
    """`adapter` on each of `encoder.encode_each(items)`: each input's embeddings [1, L', C], or its exception."""
    return [f if isinstance(f, Exception) else adapter(f) for f in encoder.encode_each(items)]
