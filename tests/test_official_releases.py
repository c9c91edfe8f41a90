"""Published releases run as upstream WorldRWKV runs them: each checkpoint written as upstream's code saves it, read
through the public API from an offline Hugging Face cache the tests write, against this project's own model built
from the same tensors."""
from __future__ import annotations

import json

import pytest
import torch

from modrwkv import ModRWKV, RWKVTokenizer, encoders
from modrwkv.generation.chat_session import ChatTemplate
from modrwkv.multimodal.adapter import AdapterConfig
from modrwkv.multimodal.official import HUBERT_LARGE_ID, UPSTREAM_DECODING, WAVLM_LARGE_ID
from modrwkv.pipelines.image_chat import VISION_DEFAULTS, ImageChat
from modrwkv.rwkv7.checkpoint import CheckpointError
from tests.test_encoders import chirp, hub_layout_folder
from tests.test_hub_sources import cached_repo, hub  # noqa: F401
from tests.test_multimodal import PAPER_VISION, PROMPT, image_model, llm, official_tensors, picture  # noqa: F401
from tests.test_speech_encoders_upstream import hubert_ctc_folder

DEMO = "WorldRWKV/RWKV7-0.4B-wavlmLarge-ENASR-demo"


def speech_adapter(llm) -> AdapterConfig:  # noqa: F811
    """f15e179 world/encoder/speech_encoder.py SpeechAdapter: Conv1d(D, 2C, 3, 2, padding 2) -> MLP 2C -> C."""
    c = llm.config.n_embd
    return AdapterConfig(in_dim=32, out_dim=c, kernel=3, stride=2, padding=2, conv_out_dim=2 * c, conv_bias=True,
                         hidden_dim=2 * c)


def paper_era_checkpoint(model: ModRWKV, with_encoder: bool) -> dict[str, torch.Tensor]:
    """The Lightning module's state dict as f15e179 src/trainer.py saves it: backbone at the top level, the adapter
    under 'modality.world_encoder.adapter.' ('proj.*' for the MLP), the encoder only when it was trained."""
    modality = next(iter(model.encoders))
    tensors = {k: v.clone() for k, v in model.llm.state_dict().items()}
    for k, v in model.adapters[modality].state_dict().items():
        tensors[f"modality.world_encoder.adapter.{k.replace('mlp.', 'proj.')}"] = v.clone()
    if with_encoder:
        tensors |= {f"modality.world_encoder.model.{k}": v.clone()
                    for k, v in model.encoders[modality].model.state_dict().items()}
    return tensors


def same_logits(official: ModRWKV, own: ModRWKV, modality: str, item) -> None:  # noqa: ANN001
    want, _ = own(PROMPT, own.embed(modality, [item]))
    got, _ = official(PROMPT, official.embed(modality, [item]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_speech_demo_without_encoder_tensors_runs_on_hubert_as_upstreams_demos_do(hub, llm):  # noqa: F811
    hubert_ctc_folder(cached_repo(hub, HUBERT_LARGE_ID))
    own = ModRWKV.build(llm, [encoders.build("hubert", hub / "models--facebook--hubert-large-ls960-ft" / "snapshots"
                                             / "0123456789abcdef0123456789abcdef01234567")], speech_adapter(llm))
    torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(hub, DEMO) / "rwkv-0.pth")
    official = ModRWKV.from_pretrained(DEMO)
    assert official.config.modalities["audio"].encoder == "hubert"
    assert official.encoders["audio"].normalize is True  # upstream's processor normalises every clip
    same_logits(official, own, "audio", chirp(1.0))


def test_a_speech_checkpoint_holding_wavlm_tensors_gets_wavlm(hub, llm):  # noqa: F811
    snapshot = cached_repo(hub, WAVLM_LARGE_ID)
    hub_layout_folder("wavlm", snapshot)
    own = ModRWKV.build(llm, [encoders.build("wavlm", snapshot)], speech_adapter(llm))
    torch.nn.init.normal_(own.encoders["audio"].model.feature_projection.projection.weight)  # trained: not the Hub's
    torch.save(paper_era_checkpoint(own, with_encoder=True), cached_repo(hub, DEMO) / "rwkv-0.pth")
    official = ModRWKV.from_pretrained(DEMO)
    assert official.config.modalities["audio"].encoder == "wavlm"
    same_logits(official, own, "audio", chirp(1.0))


def test_published_checkpoints_decode_greedily_as_upstream_does(tmp_path, llm):  # noqa: F811
    model = image_model(llm, adapter=PAPER_VISION)
    torch.save(official_tensors(model, "a"), tmp_path / "rwkv-0.pth")
    official = ModRWKV.from_pretrained(tmp_path / "rwkv-0.pth", encoder=encoders.build(
        "siglip2", **model.encoders["image"].architecture()))
    chat = ImageChat(official, RWKVTokenizer())
    assert official.config.generation == UPSTREAM_DECODING
    assert (chat.config.temperature, chat.config.presence_penalty, chat.config.frequency_penalty) == (0, 0, 0)
    assert ImageChat(model, RWKVTokenizer()).config == VISION_DEFAULTS  # this project's own models: unchanged


def _answer_ended_by_a_stop_token(model: ModRWKV) -> tuple[ImageChat, int]:
    """A chat whose first answer ends on its first token: that token is made the stop token."""
    tokenizer = RWKVTokenizer()
    probe = ImageChat(model, tokenizer, VISION_DEFAULTS.with_(temperature=0, max_new_tokens=1))
    list(probe.send("What shape is it?", [picture()]))
    first = probe.tokens[-1 - len(tokenizer.encode(probe.template.turn_end))]  # the answer ran out of length
    chat = ImageChat(model, tokenizer, VISION_DEFAULTS.with_(temperature=0, stop_tokens=(first,)))
    list(chat.send("What shape is it?", [picture()]))
    assert chat.last_stats.stop_reason == "eos"
    return chat, first


def test_a_follow_up_to_a_published_checkpoint_does_not_feed_the_stop_token(tmp_path, llm):  # noqa: F811
    model = image_model(llm, adapter=PAPER_VISION)
    torch.save(official_tensors(model, "a"), tmp_path / "rwkv-0.pth")
    official = ModRWKV.from_pretrained(tmp_path / "rwkv-0.pth", encoder=encoders.build(
        "siglip2", **model.encoders["image"].architecture()))
    chat, _ = _answer_ended_by_a_stop_token(official)
    assert chat.prompt_tokens("And its colour?") == chat.tokenizer.encode("\x16User: And its colour?\x17Assistant:")


def test_a_follow_up_to_this_projects_own_model_feeds_the_stop_token_it_was_trained_with(llm):  # noqa: F811
    chat, stop = _answer_ended_by_a_stop_token(image_model(llm, adapter=PAPER_VISION))
    assert chat.prompt_tokens("And its colour?")[0] == stop


def test_joluck_vlproj_loads_without_its_unused_pre_norm(tmp_path, llm):  # noqa: F811
    vlproj = AdapterConfig(in_dim=32, out_dim=llm.config.n_embd, kernel=6, stride=5, hidden_dim=4 * llm.config.n_embd,
                           activation="gelu")  # Joluck c07d1a8 lg_train/projector/modules.py VlProj
    model = image_model(llm, adapter=vlproj)
    tensors = official_tensors(model, "b")
    c = llm.config.n_embd
    tensors |= {"proj.pre_norm.weight": torch.randn(c), "proj.pre_norm.bias": torch.randn(c)}  # built, never called
    torch.save(tensors, tmp_path / "rwkv-0.pth")
    official = ModRWKV.from_pretrained(tmp_path / "rwkv-0.pth", encoder=encoders.build(
        "siglip2", **model.encoders["image"].architecture()))
    assert not official.adapters["image"].config.pre_norm
    same_logits(official, model, "image", picture())


def test_hf_safetensors_with_the_backbone_under_model_layers_load_as_under_model_llm(tmp_path, llm):  # noqa: F811
    from safetensors.torch import save_file

    model = image_model(llm, adapter=PAPER_VISION)
    loaded = []
    for name, rename in (("llm", lambda k: k), ("layers", lambda k: k.replace("model.llm.", "model.", 1))):
        folder = tmp_path / name
        folder.mkdir()
        tensors = {rename(k): v.contiguous() for k, v in official_tensors(model, "c").items()}
        save_file(tensors, str(folder / "model.safetensors"))
        (folder / "config.json").write_text('{"model_type": "rwkv7_wlm"}')
        loaded.append(ModRWKV.from_pretrained(folder, encoder=encoders.build(
            "siglip2", **model.encoders["image"].architecture())))
    ids = PROMPT[:4]
    torch.testing.assert_close(loaded[1](ids)[0], loaded[0](ids)[0], rtol=0, atol=0)


@pytest.mark.parametrize(("tensors", "named"), [
    ({"transformer.self_attn.in_proj_weight": (9216, 3072), "conv.weight": (3072, 32, 3), "linear.weight": (64, 3072)},
     "the speech adapter of 2025-02-28 to 03-01"),
    ({"0.weight": (2048, 160), "2.weight": (64, 2048)}, "the speech adapter before 2025-02-28"),
    ({"linear2linear.0.weight": (2048, 320), "linear2linear.2.weight": (64, 2048)},
     "the Whisper adapter before 2025-03-01"),
])
def test_an_adapter_from_upstreams_early_history_is_named_in_the_refusal(tmp_path, llm, tensors, named):  # noqa: F811
    state = {k: v.clone() for k, v in llm.state_dict().items()}
    state |= {f"modality.world_encoder.adapter.{k}": torch.zeros(shape) for k, shape in tensors.items()}
    torch.save(state, tmp_path / "rwkv-0.pth")
    with pytest.raises(CheckpointError, match=named):
        ModRWKV.from_pretrained(tmp_path / "rwkv-0.pth", encoder=encoders.build("wavlm"))


def test_joluck_pixel_shuffle_projector_is_named_in_the_refusal(tmp_path, llm):  # noqa: F811
    state = {f"llm.{k}": v.clone() for k, v in llm.state_dict().items()}
    state["proj.proj.weight"] = torch.zeros(llm.config.n_embd, 12288)
    torch.save(state, tmp_path / "rwkv-0.pth")
    with pytest.raises(CheckpointError, match="pixel-shuffle ModalityProjector"):
        ModRWKV.from_pretrained(tmp_path / "rwkv-0.pth", encoder=encoders.build("siglip2"))


# a chat template of the kind a Hugging Face release ships (rendered by transformers' Jinja rules)
HF_TEMPLATE = ("{{ '<s>' }}{% for m in messages %}{% if m['role'] == 'user' %}"
               "{{ '\x16Human: ' + m['content'] + '\x17' }}"
               "{% else %}{{ '\x16Bot: ' + m['content'] + '\x17\n' }}{% endif %}{% endfor %}"
               "{% if add_generation_prompt %}{{ '\x16Bot:' }}{% endif %}")


def test_a_chat_template_is_split_into_the_start_a_user_turn_and_what_follows_an_answer():
    template = ChatTemplate.from_jinja(HF_TEMPLATE)
    assert (template.start, template.user, template.turn_end) == ("<s>", "\x16Human: {message}\x17\x16Bot:", "\x17\n")


def test_a_hf_release_with_a_chat_template_lays_out_its_turns_by_it(tmp_path, llm):  # noqa: F811
    from safetensors.torch import save_file

    model = image_model(llm, adapter=PAPER_VISION)
    save_file({k: v.contiguous() for k, v in official_tensors(model, "c").items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text('{"model_type": "rwkv7_wlm"}')
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": HF_TEMPLATE}))
    official = ModRWKV.from_pretrained(tmp_path, encoder=encoders.build(
        "siglip2", **model.encoders["image"].architecture()))
    assert official.config.chat_template == HF_TEMPLATE
    chat, _ = _answer_ended_by_a_stop_token(official)
    encode = chat.tokenizer.encode
    assert chat.tokens[:len(encode("<s>\x16Human: "))] == encode("<s>\x16Human: ")
    assert chat.prompt_tokens("And its colour?") == encode("\x17\n\x16Human: And its colour?\x17\x16Bot:")
    reloaded = ModRWKV.from_pretrained(official.save_pretrained(tmp_path / "saved"))
    assert reloaded.config.chat_template == HF_TEMPLATE
