"""The compressor + MLP adapter, and reading the official ModRWKV checkpoint layouts.

The official adapters are re-typed below from github.com/JL-er/WorldRWKV (paper era f15e179:
world/encoder/siglip_encoder.py `VisualAdapter`, world/encoder/speech_encoder.py `SpeechAdapter`; HEAD 0881058:
wlm/projector/test.py `VisualAdapter`), so each layout test checks names *and* computation against them.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modrwkv import RWKVTokenizer
from modrwkv.multimodal.adapter import AdapterConfig, MLPAdapter, ModalityAdapter, SequenceCompressor
from modrwkv.multimodal.official import (
    IMAGE_PAD_ID,
    IMAGE_TOKENS,
    RELEASES,
    TURN_END_ID,
    TURN_START_ID,
    adapter_config_from_official,
    split_official_state_dict,
)
from modrwkv.rwkv7.checkpoint import CheckpointError
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from tests.fla_layout import to_fla

ENC, C = 48, 64  # encoder width, RWKV-7 width of the small backbone
BACKBONE = RWKV7Config.shape(n_layer=2, n_embd=C, head_size=32, vocab_size=512)


class PaperVisualAdapter(nn.Module):  # f15e179 world/encoder/siglip_encoder.py
    def __init__(self, encoder_dim: int, project_dim: int):
        super().__init__()
        self.pre_norm = nn.LayerNorm(project_dim)
        self.proj = nn.Sequential(nn.Linear(encoder_dim, 2 * project_dim), nn.ReLU(),
                                  nn.Linear(2 * project_dim, project_dim))

    def forward(self, x):
        x = self.proj(x)
        return x + self.pre_norm(x)


class PaperSpeechAdapter(nn.Module):  # f15e179 world/encoder/speech_encoder.py (whisper_encoder.py: the same)
    def __init__(self, encoder_dim: int, project_dim: int):
        super().__init__()
        hidden = 2 * project_dim
        self.conv = nn.Conv1d(encoder_dim, hidden, kernel_size=3, stride=2, padding=2)
        self.proj = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, project_dim))

    def forward(self, x):
        return self.proj(self.conv(x.permute(0, 2, 1)).permute(0, 2, 1))


class LaterVisualAdapter(nn.Module):  # 0881058 wlm/projector/test.py, world/projector/test.py
    def __init__(self, encoder_dim: int, project_dim: int, use_conv: bool):
        super().__init__()
        self.use_conv = use_conv
        self.pre_norm = nn.LayerNorm(project_dim)
        self.mlp = nn.Sequential(nn.Linear(encoder_dim, 4 * project_dim), nn.ReLU(),
                                 nn.Linear(4 * project_dim, project_dim))
        if use_conv:
            self.conv = nn.Conv1d(encoder_dim, encoder_dim, bias=False, kernel_size=3, stride=2)

    def forward(self, x):
        if self.use_conv:
            x = self.conv(x.permute(0, 2, 1)).permute(0, 2, 1)
        x = self.mlp(x)
        return x + self.pre_norm(x)


def _randomised(module: nn.Module, seed: int) -> nn.Module:
    """Every parameter random (LayerNorm weights too), so no default value can hide a mix-up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module.eval()


# ---------------------------------------------------------------------------------------------
# compressor and MLP


@pytest.mark.parametrize("kernel,stride", [(0, 0), (3, 2), (4, 3), (5, 4)])
@pytest.mark.parametrize("length", [5, 17, 100, 576])
def test_compressor_output_length_follows_the_conv_formula(kernel, stride, length):
    comp = SequenceCompressor(ENC, kernel, stride)
    y = comp(torch.randn(2, length, ENC))
    expected = length if kernel == 0 else (length - kernel) // stride + 1
    assert y.shape == (2, expected, ENC)
    assert comp.output_length(length) == expected == AdapterConfig.paper(ENC, C, kernel, stride).output_length(length)
    if kernel == 0:
        assert not list(comp.parameters())


def test_compressor_is_a_conv1d_over_the_sequence_with_padding_and_bias():
    comp = _randomised(SequenceCompressor(ENC, 3, 2, padding=2, out_dim=2 * C, bias=True), 0)
    x = torch.randn(1, 576, ENC)
    ref = F.conv1d(x.transpose(1, 2), comp.weight, comp.bias, stride=2, padding=2).transpose(1, 2)
    torch.testing.assert_close(comp(x), ref)
    assert comp.output_length(576) == (576 + 4 - 3) // 2 + 1 == ref.shape[1]


def test_a_sequence_shorter_than_the_kernel_is_refused_clearly():
    with pytest.raises(ValueError, match="shorter than the compressor's kernel"):
        SequenceCompressor(ENC, 5, 4)(torch.randn(1, 4, ENC))


def test_the_mlp_output_is_x_plus_layernorm_x_only_when_asked():
    x = torch.randn(2, 7, ENC)
    plain = _randomised(MLPAdapter(ENC, C, ratio=4), 1)
    y = plain.mlp[2](torch.relu(plain.mlp[0](x)))
    torch.testing.assert_close(plain(x), y)
    assert plain.mlp[0].out_features == 4 * ENC  # the paper's r*D

    normed = _randomised(MLPAdapter(ENC, C, hidden=3 * C, residual_norm=True), 2)
    y = normed.mlp(x)
    ln = F.layer_norm(y, (C,), normed.pre_norm.weight, normed.pre_norm.bias)
    torch.testing.assert_close(normed(x), y + ln)


@pytest.mark.parametrize("config", [
    AdapterConfig.paper(768, 1024),
    AdapterConfig.paper(768, 1024, kernel=0, stride=0),
    AdapterConfig(in_dim=1024, out_dim=768, kernel=3, stride=2, padding=2, conv_out_dim=1536, conv_bias=True,
                  hidden_dim=1536),
    AdapterConfig(in_dim=768, out_dim=2560, hidden_dim=5120, pre_norm=True, activation="gelu"),
])
def test_adapter_config_round_trips_through_json(config):
    assert AdapterConfig.from_json(config.to_json()) == config


def test_adapter_config_rejects_what_it_cannot_build():
    with pytest.raises(ValueError, match="unknown AdapterConfig fields"):
        AdapterConfig.from_dict({"in_dim": 1, "out_dim": 1, "order": "conv_first"})
    with pytest.raises(ValueError, match="kernel 0 means no conv"):
        AdapterConfig(in_dim=8, out_dim=8, kernel=0, stride=2)
    with pytest.raises(ValueError, match="stride"):
        AdapterConfig(in_dim=8, out_dim=8, kernel=3, stride=0)


# ---------------------------------------------------------------------------------------------
# official layouts


def _top_level(blink):  # (a) f15e179 world/model.py: the backbone is the Lightning module itself
    return dict(blink)


def _under_llm(blink):  # (b) 0881058 world/model.py ModRWKV.llm
    return {f"llm.{k}": v for k, v in blink.items()}


def _hf(blink):  # (c) Joluck c07d1a8 convert_from_rwkv7.py: fla names, their 'model.' becomes 'model.llm.'
    return {k.replace("model.", "model.llm.", 1): v for k, v in to_fla(blink).items()}


# Each layout: the official adapter, how the backbone is stored, the adapter's prefix, and the encoder's tensors
# as {prefix of the HF model inside the wrapper: {name in that HF model: tensor}}.


def _layout_a_vision():
    official = _randomised(PaperVisualAdapter(ENC, C), 10)
    encoder = {"embeddings.patch_embedding.weight": torch.randn(ENC, 3, 16, 16)}
    return official, _top_level, "modality.world_encoder.adapter.", "modality.world_encoder.model.", encoder


def _layout_a_audio():  # the encoder was frozen, so the trainer saved none of its tensors
    official = _randomised(PaperSpeechAdapter(ENC, C), 11)
    return official, _top_level, "modality.world_encoder.adapter.", "modality.world_encoder.model.", {}


def _layout_b():
    official = _randomised(LaterVisualAdapter(ENC, C, use_conv=True), 12)
    return official, _under_llm, "proj.", "encoder.model.", {"encoder.layers.0.mlp.fc1.weight": torch.randn(96, ENC)}


def _layout_c():
    official = _randomised(LaterVisualAdapter(ENC, C, use_conv=False), 13)
    return official, _hf, "model.proj.", "model.encoder.vision_model.", {"post_layernorm.weight": torch.randn(ENC)}


@pytest.mark.parametrize("build,layout", [(_layout_a_vision, "a"), (_layout_a_audio, "a"), (_layout_b, "b"),
                                          (_layout_c, "c")])
def test_each_official_layout_splits_into_backbone_adapter_and_encoder(build, layout):
    blink = random_state_dict(BACKBONE, seed=5)
    official, backbone_layout, adapter_prefix, encoder_prefix, encoder_tensors = build()
    state = (backbone_layout(blink) | {adapter_prefix + k: v for k, v in official.state_dict().items()}
             | {encoder_prefix + k: v for k, v in encoder_tensors.items()})

    found, backbone, adapter, encoder = split_official_state_dict(state)

    assert found == layout
    if layout == "c":  # fla drops layer 0's v0/v1/v2, which RWKV-7 never uses
        blink = {k: v for k, v in blink.items() if k not in ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2")}
    assert backbone.keys() == blink.keys()
    for k in blink:
        assert torch.equal(backbone[k], blink[k]), k
    assert encoder.keys() == encoder_tensors.keys()
    assert all(torch.equal(encoder[k], encoder_tensors[k]) for k in encoder)

    config = adapter_config_from_official(adapter)
    ours = ModalityAdapter(config).eval()
    ours.load_state_dict(adapter, strict=True)
    x = torch.randn(2, 40, ENC)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), official(x), rtol=0, atol=0)
    assert ours(x).shape[1] == config.output_length(40)


def test_an_unknown_layout_names_what_was_found():
    with pytest.raises(CheckpointError, match=r"official ModRWKV checkpoint.*'vision_tower\.weight'"):
        split_official_state_dict({"vision_tower.weight": torch.zeros(2)})


def test_a_plain_language_model_is_told_apart_from_a_multimodal_checkpoint():
    with pytest.raises(CheckpointError, match="plain RWKV-7 language model with no adapter"):
        split_official_state_dict(random_state_dict(BACKBONE, seed=5))


def test_an_adapter_of_another_kind_is_refused_with_its_keys():
    blink = random_state_dict(BACKBONE, seed=5)
    other = {"proj.head.weight": torch.zeros(C, ENC)}
    with pytest.raises(CheckpointError, match=r"expected adapter tensors.*found \['head.weight'\]"):
        split_official_state_dict({f"llm.{k}": v for k, v in blink.items()} | other)


def test_stray_tensors_are_named():
    blink = random_state_dict(BACKBONE, seed=5)
    state = {f"llm.{k}": v for k, v in blink.items()} | {"proj.mlp.0.weight": torch.zeros(1, 1),
                                                        "proj.mlp.2.weight": torch.zeros(1, 1),
                                                        "optimizer.step": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="found others: 'optimizer.step'"):
        split_official_state_dict(state)


# ---------------------------------------------------------------------------------------------
# the release table


def _official_for(release) -> nn.Module:
    a = release.adapter
    if release.encoder in ("wavlm", "hubert"):
        return PaperSpeechAdapter(a.in_dim, a.out_dim)
    if release.layout == "a":
        return PaperVisualAdapter(a.in_dim, a.out_dim)
    return LaterVisualAdapter(a.in_dim, a.out_dim, use_conv=a.kernel > 0)


@pytest.mark.parametrize("repo", sorted(RELEASES))
def test_each_release_adapter_has_the_official_tensor_shapes(repo):
    release = RELEASES[repo]
    with torch.device("meta"):
        official = _official_for(release)
        ours = ModalityAdapter(release.adapter)
    renamed = {("mlp." + k[5:] if k.startswith("proj.") else k): v.shape for k, v in official.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == renamed
    assert AdapterConfig.from_json(release.adapter.to_json()) == release.adapter
    assert release.placement in ("prepend", "placeholder") and release.layout in ("a", "b", "c")


def test_siglip2_releases_give_576_embeddings_per_image_and_prompts_open_a_turn():
    tok = RWKVTokenizer()
    assert tok.encode("\x16") == [TURN_START_ID] and tok.encode("\x17") == [TURN_END_ID]
    for repo, release in RELEASES.items():
        if release.encoder == "siglip2":
            assert release.adapter.output_length(IMAGE_TOKENS) == 576, repo
        assert tok.encode(release.prompt)[0] == TURN_START_ID, repo
    assert IMAGE_PAD_ID == 65532
