"""The published ModRWKV / WorldRWKV checkpoints: what each holds and how to read it.

Sources (github.com/JL-er/WorldRWKV; Joluck/WorldRWKV continues the same history):
- paper era, commit f15e179 (2025-05-21): world/world_load.py, world/world_encoder.py, world/encoder/*.py,
  world/model.py (modality embeddings concatenated *before* the text embeddings), infer/worldmodel.py (keys with
  'modality' go to the encoder wrapper after stripping 'modality.world_encoder.'), infer/rwkv/model.py, README.md
  (release table, prompt), web/visual_web.py and web/audio_multiturns_web.py (prompts).
- later, JL-er HEAD 0881058: world/model.py `ModRWKV` (submodules encoder / proj / llm, 576 `<|image_pad|>` ids
  replaced by masked_scatter), world/world_load.py, infer/worldmodel.py (`llm.` / `proj.` keys, prompt
  `process_wr`), infer/rwkv/wr_vocab_v20230424.txt (ids 65530-65532), wlm/ (the Hugging Face version:
  configuration_wlm.py, modeling_rwkv7_wlm.py, processing_wlm.py).
- Joluck c07d1a8 (2025-12-15; HEAD c0597a8 changes only README.md): convert_from_rwkv7.py (writes the HF
  safetensors: fla names under `model.llm.`, `model.proj.*`, `model.encoder.*`, `lm_head.weight`), lg_train/
  (training code of the `llm.`/`proj.` layout; lg_train/projector/modules.py VlProj and ModalityProjector).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from modrwkv.multimodal.adapter import AdapterConfig
from modrwkv.rwkv7.checkpoint import CheckpointError, StateDict, to_blinkdl

# Token ids. 23/24 are the RWKV World vocab's "\x16"/"\x17": a turn opens with 23 and the assistant's answer ends
# with 24 (the official generate() stops on token_stop=[24] and bans 0). 65530-65532 exist only in WorldRWKV's
# modified vocab (wr_vocab_v20230424.txt, which replaced two unused entries), so they cannot be produced by
# encoding text with the standard vocab: the ids are inserted directly.
TURN_START_ID = 23  # "\x16"
TURN_END_ID = 24  # "\x17"
TURN_END = "\x17"
VISION_START_ID = 65530  # "<|vision_start|>"
VISION_END_ID = 65531  # "<|vision_end|>"
IMAGE_PAD_ID = 65532  # "<|image_pad|>", one per image embedding; world/model.py image_token_id
IMAGE_TOKENS = 576  # (384 / 16)^2 SigLIP2 patches per image; processing_wlm.py writes 576 pads

# Prompt templates. In "prepend" releases the modality embeddings come before these tokens. In "placeholder"
# releases `{image}` stands for VISION_START_ID, IMAGE_TOKENS x IMAGE_PAD_ID, VISION_END_ID (per image) whose pad
# embeddings are replaced by the adapter's output; note no space after "User:" and the extra "\x16" there.
PROMPT_VISION = "\x16User: {question}\x17Assistant:"  # f15e179 README.md, web/visual_web.py
PROMPT_AUDIO = "\x16Assistant:"  # f15e179 web/audio_multiturns_web.py, web/audio_web.py (ASR and audio QA)
PROMPT_PLACEHOLDER = "\x16User:{image}{question}\x17\x16Assistant:"  # 0881058 infer/worldmodel.py process_wr

ENCODERS = ("siglip2", "clip", "whisper", "wavlm", "hubert", "wavenet")
SIGLIP2_ID = "google/siglip2-base-patch16-384"  # width 768, 576 patch tokens (last_hidden_state)
WAVLM_LARGE_ID = "microsoft/wavlm-large"  # width 1024, 50 frames/s (last_hidden_state)
HUBERT_LARGE_ID = "facebook/hubert-large-ls960-ft"  # width 1024, 50 frames/s; AutoModel drops its CTC head

# How upstream decodes every release: f15e179 infer/worldmodel.py L46-51 (the same at both HEADs) sets
# temperature 1.0, top_p 0.0, no penalties, token_ban [0], token_stop [24], 500 tokens (L70); top_p 0 keeps only
# the most likely token (infer/rwkv/utils.py L77-87), so it is greedy. Every web demo and the VLMEvalKit config
# use these.
UPSTREAM_DECODING = {"temperature": 0.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "max_new_tokens": 500}
# Upstream samples the stop token but never feeds it (f15e179 infer/rwkv/utils.py L95-112): a follow-up turn's
# "\x16User: ..." comes right after the answer's last token (web/visual_web.py L46-49).
UPSTREAM_TURN_END = ""


@dataclass(frozen=True)
class Release:
    encoder: str  # one of ENCODERS
    encoder_id: str  # Hugging Face id of the encoder weights (layout "a" checkpoints do not contain them)
    adapter: AdapterConfig
    placement: str  # "prepend": [modality ; text]; "placeholder": replaces IMAGE_PAD_ID embeddings
    prompt: str
    layout: str  # "a" | "b" | "c", see split_official_state_dict
    files: tuple[str, ...]
    # encoders.build options upstream's preprocessing implies (see _demo_audio)
    encoder_options: tuple[tuple[str, object], ...] = ()


def _paper_vision(n_embd: int) -> AdapterConfig:
    # f15e179 world/encoder/siglip_encoder.py VisualAdapter: hidden = project_dim * 2, x + pre_norm(x), no conv
    return AdapterConfig(in_dim=768, out_dim=n_embd, hidden_dim=2 * n_embd, pre_norm=True)


def _paper_audio(enc_dim: int, n_embd: int) -> AdapterConfig:
    # f15e179 world/encoder/speech_encoder.py SpeechAdapter: Conv1d(D, 2C, 3, stride 2, padding 2) with bias,
    # Linear(2C, 2C) -> ReLU -> Linear(2C, C), no LayerNorm
    return AdapterConfig(in_dim=enc_dim, out_dim=n_embd, kernel=3, stride=2, padding=2, conv_out_dim=2 * n_embd,
                         conv_bias=True, hidden_dim=2 * n_embd)


def _later_vision(n_embd: int) -> AdapterConfig:
    # 0881058 wlm/projector/test.py VisualAdapter: hidden = 4C, x + pre_norm(x); ProjConfig.use_conv defaults
    # to False. A checkpoint trained with use_conv has a `conv.weight` [768, 768, 3] and needs kernel 3, stride 2
    # (adapter_config_from_official recognises it).
    return AdapterConfig(in_dim=768, out_dim=n_embd, hidden_dim=4 * n_embd, pre_norm=True)


def _siglip2(n_embd: int) -> Release:
    return Release("siglip2", SIGLIP2_ID, _paper_vision(n_embd), "prepend", PROMPT_VISION, "a", ("rwkv-0.pth",))


def _demo_audio(n_embd: int) -> Release:
    # The README credits microsoft/wavlm-large, but every audio demo of upstream's code loads these checkpoints with
    # a folder named facebookhubert-large-ls960-ft (f15e179 web/audio_multiturns_web.py L9-11, web/audio_gen.py
    # L7-9, web/multimodal_web.py L11-13), and the trainer leaves the encoder out unless it was trained (src/trainer.py
    # L188-197): HuBERT is what upstream runs them with. A checkpoint that does hold encoder tensors says which
    # model it is (WavLM layers carry gru_rel_pos_*, `audio_encoder_of`). Either way upstream's processor is
    # HuBERT's Wav2Vec2FeatureExtractor, which normalises each clip (world/encoder/speech_encoder.py L74-77: the
    # wavlm-large folder has no tokenizer, so AutoProcessor falls back to facebook/hubert-large-ls960-ft).
    return Release("hubert", HUBERT_LARGE_ID, _paper_audio(1024, n_embd), "prepend", PROMPT_AUDIO, "a",
                   ("rwkv-0.pth",), (("normalize", True),))


# The release ids listed by the README at f15e179 (and unchanged at both HEADs), plus the HF-format model.
# The README also reports CLIP (openai/clip-vit-large-patch14-336), WavLM base+ and Whisper small/medium results,
# but links no checkpoints for them. The model cards of the SigLIP2 releases load 'WorldRWKV/RWKV7-*-siglip2/rwkv-0'
# (Worldinfer appends '.pth'); the WavLM demos are assumed to use the same name (the same training code wrote them).
# ModRWKV-0.4's files were not inspectable here: its entry follows the code that writes that format
# (Joluck c07d1a8 convert_from_rwkv7.py; 0881058 wlm/) with the default ProjConfig (no conv).
# Not listed: the Whisper ASR/QA demos and RWKV7-0.4B-G1-SigLIP2-ColdStart. No commit of either repository names
# them, their encoder sizes or prompts (the nearest, JL-er 9e3341b eval/siglip/*.sh, evaluates a local
# "rwkv7-g1-0.4b" with the VisualAdapter); `python -m modrwkv.check_release` reports what such a repo holds.
RELEASES: dict[str, Release] = {
    "WorldRWKV/RWKV7-0.4B-siglip2": _siglip2(1024),
    "WorldRWKV/RWKV7-1.5B-siglip2": _siglip2(2048),
    "WorldRWKV/RWKV7-3B-siglip2": _siglip2(2560),
    "WorldRWKV/RWKV7-0.1B-wavlmLarge-ENASR-demo": _demo_audio(768),
    "WorldRWKV/RWKV7-0.4B-wavlmLarge-ENASR-demo": _demo_audio(1024),
    "WorldRWKV/RWKV7-0.4B-wavlmLarge-CNASR-demo": _demo_audio(1024),
    "WorldRWKV/RWKV7-0.4B-wavlmLarge-ENQA-demo": _demo_audio(1024),
    "WorldRWKV/ModRWKV-0.4": Release("siglip2", SIGLIP2_ID, _later_vision(1024), "placeholder", PROMPT_PLACEHOLDER,
                                     "c", ("model.safetensors", "config.json")),
}


def chat_template_in(folder: Path) -> str | None:
    """The chat template a Hugging Face model folder ships, read from transformers' files in the order transformers
    reads them (chat_template.jinja, chat_template.json, tokenizer_config.json; of named templates, "default"), or
    None. ModRWKV-0.4's prompt comes from its repo's template: no commit of the upstream code holds one."""
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    for name in ("chat_template.json", "tokenizer_config.json"):
        if not (folder / name).is_file():
            continue
        try:
            value = json.loads((folder / name).read_text(encoding="utf-8")).get("chat_template")
        except (json.JSONDecodeError, AttributeError) as e:
            raise CheckpointError(f"{folder / name} is not a JSON object ({e})") from e
        if isinstance(value, list):
            value = next((t.get("template") for t in value if isinstance(t, dict) and t.get("name") == "default"),
                         None)
        if isinstance(value, str):
            return value
    return None


def release_of(src: str) -> Release | None:
    """The release `src` names: its repo id, or a file of that repo ('<repo id>/rwkv-0')."""
    return next((r for rid, r in RELEASES.items() if src == rid or src.startswith(rid + "/")), None)


def weights_source(src: str) -> str:
    """`src`, with a bare release id of a one-file release completed by that file: a repo that holds several
    checkpoints (or adds one later) still loads the file the release is."""
    release = RELEASES.get(src)
    if release is None or release.layout == "c":  # a Hugging Face folder: weights and configs together
        return src
    weights = [f for f in release.files if not f.endswith(".json")]
    return f"{src}/{weights[0]}" if len(weights) == 1 else src


# ---------------------------------------------------------------------------------------------
# checkpoint layouts

# (a) paper era: the whole Lightning module's state dict. BlinkDL backbone keys at the top level, the encoder
#     wrapper under 'modality.world_encoder.' (its HF model as '.model', the adapter as '.adapter'; encoder
#     tensors are present only when the encoder was trained, 'moda' in train_step).
# (b) later .pth: 'llm.' + BlinkDL keys, 'proj.' adapter, 'encoder.' wrapper (HF model as '.model').
# (c) HF safetensors: 'model.llm.' + fla keys ('model.' of fla's RWKV7ForCausalLM renamed), 'lm_head.weight',
#     'model.proj.', 'model.encoder.' (HF model as '.model' at 0881058, '.vision_model' from Joluck c47a62d).
_LAYOUTS = {  # layout: (backbone prefixes, adapter prefix, encoder wrapper prefix, HF-model attributes in it)
    "a": (("",), "modality.world_encoder.adapter.", "modality.", ("world_encoder.model.",)),
    "b": (("llm.",), "proj.", "encoder.", ("model.",)),
    # the backbone is what remains under 'model.' once the projector and encoder are taken: 'model.llm.*' as
    # save_pretrained and convert_from_rwkv7.py write it, or 'model.layers.*' as the reverse of the wlm code's
    # `_checkpoint_conversion_mapping` (r"^model(?!\.(llm|visual))" -> "model.llm", 0881058
    # wlm/modeling_rwkv7_wlm.py L123-127) would write it if transformers ever applied it to this class
    "c": (("model.", "lm_head.weight"), "model.proj.", "model.encoder.", ("model.", "vision_model.")),
}
_DETECT = (("c", ("model.llm.",)), ("c", ("model.layers.", "model.proj.")), ("b", ("llm.",)),
           ("a", ("modality.world_encoder.",)))
_EXPECTED = ("an official ModRWKV checkpoint: (a) BlinkDL keys + 'modality.world_encoder.adapter.*' (rwkv-0.pth of "
             "WorldRWKV/RWKV7-*-siglip2 and the wavlm demos), (b) 'llm.*' + 'proj.*' (+ 'encoder.*'), or "
             "(c) 'model.llm.*' or 'model.layers.*' (fla names) + 'model.proj.*' + 'lm_head.weight' "
             "(+ 'model.encoder.*')")
ADAPTER_KEYS = frozenset({"conv.weight", "conv.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
                          "pre_norm.weight", "pre_norm.bias"})


def split_official_state_dict(state: StateDict) -> tuple[str, StateDict, StateDict, StateDict]:
    """(layout, backbone under BlinkDL names, adapter under ModalityAdapter names, encoder tensors or {}).

    Encoder tensors are named as in the Hugging Face module the official wrapper held (SigLIP2's vision
    transformer, WavLMModel, ...). Raises CheckpointError saying what was expected and what was found.
    """
    layout = next((name for name, prefixes in _DETECT
                   if all(any(k.startswith(p) for k in state) for p in prefixes)), None)
    if layout is None:
        raise CheckpointError(f"expected {_EXPECTED}; found {_describe(state)}")
    backbone_prefixes, adapter_prefix, encoder_prefix, encoder_attrs = _LAYOUTS[layout]

    adapter: StateDict = {}
    encoder: StateDict = {}
    backbone_part: StateDict = {}
    unexpected: list[str] = []
    for key, t in state.items():
        if key.startswith(adapter_prefix):
            name = key[len(adapter_prefix):]
            adapter["mlp." + name[len("proj."):] if layout == "a" and name.startswith("proj.") else name] = t
        elif key.startswith(encoder_prefix):
            rest = key[len(encoder_prefix):]
            attr = next((a for a in encoder_attrs if rest.startswith(a)), None)
            if attr is None:
                unexpected.append(key)
            else:
                encoder[rest[len(attr):]] = t
        elif any(key.startswith(p) for p in backbone_prefixes):
            backbone_part[key] = t
        else:
            unexpected.append(key)
    where = f"layout ({layout}) checkpoint"
    if unexpected:
        encoder_keys = " or ".join(f"'{encoder_prefix}{a}*'" for a in encoder_attrs)
        raise CheckpointError(f"{where}: expected only backbone, '{adapter_prefix}*' and {encoder_keys} tensors; "
                              f"found others: {_sample(unexpected)}")
    if not adapter:
        raise CheckpointError(f"{where}: expected adapter tensors under '{adapter_prefix}'; found none")
    if (what := unsupported_adapter(adapter)) is not None:
        raise CheckpointError(f"{where}: its adapter is {what}; this project builds the released adapters only "
                              "(SpeechAdapter, VisualAdapter, VlProj)")
    odd = sorted(set(adapter) - ADAPTER_KEYS)
    if odd or not {"mlp.0.weight", "mlp.2.weight"} <= set(adapter):
        raise CheckpointError(f"{where}: expected adapter tensors {sorted(ADAPTER_KEYS)} (conv and pre_norm "
                              f"optional) under '{adapter_prefix}'; found {sorted(adapter)}")
    try:
        backbone = to_blinkdl(backbone_part)
    except CheckpointError as e:
        raise CheckpointError(f"{where}, backbone: {e}") from e
    return layout, backbone, adapter, encoder


def audio_encoder_of(encoder: StateDict) -> str | None:
    """"wavlm" or "hubert" for a checkpoint that holds its speech encoder's tensors (WavLM's attention layers carry
    a gated relative position bias, HuBERT's none), None when it holds none."""
    if not encoder:
        return None
    return "wavlm" if any("gru_rel_pos" in k or "rel_attn_embed" in k for k in encoder) else "hubert"


def release_encoder(release: Release, encoder: StateDict) -> tuple[str, str]:
    """(encoder name, weights) to build for `release`: its own, except that a speech checkpoint holding its
    encoder's tensors gets the model they are (`audio_encoder_of`)."""
    found = audio_encoder_of(encoder) if release.encoder in ("wavlm", "hubert") else None
    if found is None or found == release.encoder:
        return release.encoder, release.encoder_id
    return found, {"wavlm": WAVLM_LARGE_ID, "hubert": HUBERT_LARGE_ID}[found]


# Adapters of upstream's history that this project does not build, recognised by their tensors so that the error
# says which one a checkpoint holds (JL-er/WorldRWKV world/encoder/speech_encoder.py and whisper_encoder.py).
_UNSUPPORTED_ADAPTERS = (
    ("transformer.self_attn.in_proj_weight", "the speech adapter of 2025-02-28 to 03-01 (6c39cdb to 9d3838d: "
     "Conv1d(D, 3072, 3, 2) -> TransformerEncoderLayer(3072, 8 heads) -> Linear(3072, C)), replaced before any "
     "release"),
    ("0.weight", "the speech adapter before 2025-02-28 (1f85fe6: 5 stacked frames -> Linear -> ReLU -> Linear)"),
    ("linear2linear.0.weight", "the Whisper adapter before 2025-03-01 (6c39cdb^: 10 stacked frames -> Linear -> "
     "ReLU -> Linear)"),
    ("proj.weight", "Joluck's pixel-shuffle ModalityProjector (c07d1a8 lg_train/projector/modules.py: 576 SigLIP2 "
     "patches shuffled into 36 tokens of 12288 -> one Linear), which no published checkpoint uses"),
)


def unsupported_adapter(adapter: StateDict) -> str | None:
    """What a known but unsupported official adapter is, from its tensors; None for any other."""
    return next((what for key, what in _UNSUPPORTED_ADAPTERS if key in adapter), None)


def adapter_config_from_official(adapter: StateDict) -> AdapterConfig:
    """The AdapterConfig of an official adapter, from its tensors (as split_official_state_dict names them).

    Shapes give the widths; stride, padding and activation are not in the tensors, so they are those of the one
    official module whose tensors look like these. CheckpointError for any other combination.
    """
    fc1, fc2 = adapter["mlp.0.weight"], adapter["mlp.2.weight"]
    hidden, mlp_in = fc1.shape
    out_dim = fc2.shape[0]
    pre_norm = "pre_norm.weight" in adapter
    conv = adapter.get("conv.weight")
    if conv is None:  # VisualAdapter, paper era (2C) or later without conv (4C)
        return AdapterConfig(in_dim=mlp_in, out_dim=out_dim, hidden_dim=hidden, pre_norm=pre_norm)
    conv_out, conv_in, kernel = conv.shape
    has_bias = "conv.bias" in adapter
    if kernel == 3 and has_bias and not pre_norm:  # SpeechAdapter (WavLM / Whisper)
        stride, padding, activation = 2, 2, "relu"
    elif kernel == 3 and not has_bias and pre_norm:  # later VisualAdapter with use_conv
        stride, padding, activation = 2, 0, "relu"
    elif kernel == 6 and not has_bias:  # Joluck c07d1a8 lg_train/projector/modules.py VlProj
        # VlProj builds a pre_norm (so its tensors are saved) but never calls it: `usable_adapter_tensors` drops them
        stride, padding, activation, pre_norm = 5, 0, "gelu", False
    else:
        raise CheckpointError(f"adapter with conv {tuple(conv.shape)} (bias: {has_bias}) and pre_norm: {pre_norm} "
                              "matches no official adapter (VisualAdapter, SpeechAdapter, VlProj)")
    return AdapterConfig(in_dim=conv_in, out_dim=out_dim, kernel=kernel, stride=stride, padding=padding,
                         conv_out_dim=None if conv_out == conv_in else conv_out, conv_bias=has_bias,
                         hidden_dim=hidden, pre_norm=pre_norm, activation=activation)


def usable_adapter_tensors(adapter: StateDict, config: AdapterConfig) -> StateDict:
    """The tensors a ModalityAdapter of `config` loads: an unused pre_norm (VlProj's) is left out."""
    return adapter if config.pre_norm else {k: v for k, v in adapter.items() if not k.startswith("pre_norm.")}


def _sample(keys: list[str]) -> str:
    return ", ".join(f"'{k}'" for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _describe(state: StateDict) -> str:
    if not state:
        return "no tensors"
    try:
        to_blinkdl(state)
    except CheckpointError:
        return f"{len(state)} tensors with other names ({_sample(list(state))})"
    return ("a plain RWKV-7 language model with no adapter tensors (load it with RWKV7.from_pretrained): "
            f"{_sample(list(state))}")
