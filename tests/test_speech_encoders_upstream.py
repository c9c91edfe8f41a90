"""Speech encoders as upstream WorldRWKV runs them: HuBERT from a HubertForCTC folder, per-clip normalisation
(the `normalize` option of the waveform encoders) and Whisper's `upstream_frames` count, kept through save/load."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modrwkv import RWKV7, encoders
from modrwkv.encoders.hubert import HubertEncoder
from modrwkv.multimodal import ModRWKV
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from tests.test_encoders import chirp, hub_layout_folder

LLM = RWKV7Config.shape(n_layer=2, n_embd=64, head_size=32)


@pytest.fixture(scope="module")
def llm() -> RWKV7:
    return RWKV7.from_state_dict(random_state_dict(LLM, seed=5))


def hubert_ctc_folder(folder: Path):
    """A tiny `HubertForCTC` saved as facebook/hubert-large-ls960-ft is published (weights prefixed `hubert.`,
    a normalising feature extractor with an attention mask); returns the model."""
    import transformers as tf

    torch.manual_seed(0)
    config = HubertEncoder.tiny_config()
    config.vocab_size = 8
    ctc = tf.HubertForCTC(config).eval()
    ctc.save_pretrained(folder)
    tf.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return ctc


def waveform_folder(folder: Path, do_normalize: bool) -> Path:
    """A tiny WavLM folder whose preprocessor_config.json sets `do_normalize`."""
    import transformers as tf

    hub_layout_folder("wavlm", folder)
    tf.Wav2Vec2FeatureExtractor(do_normalize=do_normalize, return_attention_mask=True).save_pretrained(folder)
    return folder


def same_on_reload(model: ModRWKV, folder: Path) -> ModRWKV:
    loaded = ModRWKV.from_pretrained(model.save_pretrained(folder))
    clips = [chirp(1.0), 0.1 * chirp(0.7)]
    torch.testing.assert_close(loaded.embed("audio", clips), model.embed("audio", clips), rtol=0, atol=0)
    return loaded


# -- HuBERT --------------------------------------------------------------------------------------


def test_a_hubert_for_ctc_folder_loads_as_the_encoder_and_gives_the_ctc_models_hubert_features(tmp_path):
    ctc = hubert_ctc_folder(tmp_path)
    encoder = encoders.build("hubert", tmp_path)
    clips = [chirp(1.0), chirp(0.6)]
    batch = encoder.preprocess(clips)
    with torch.no_grad():
        expected = ctc.hubert(batch["input_values"], attention_mask=batch["attention_mask"]).last_hidden_state

    assert encoder.modality == "audio" and type(encoder.model).__name__ == "HubertModel"
    torch.testing.assert_close(encoder.encode(clips), expected, rtol=0, atol=0)
    assert expected.shape == (2, 49, 32)  # 50 features per second of the longest clip (the convolutions trim one)


# The clip is also shifted off zero: random weights have zero convolution biases, and then the layer norm of the
# front end alone cancels a pure change of scale.
def louder_and_off_centre(clip):
    return 10 * clip + 0.2


def test_hubert_normalises_each_clip_so_loudness_and_offset_do_not_change_the_features():
    torch.manual_seed(0)
    encoder = encoders.build("hubert")
    clip = chirp(0.5)
    torch.testing.assert_close(encoder.encode([louder_and_off_centre(clip)]), encoder.encode([clip]), rtol=0, atol=1e-4)


def test_normalize_false_turns_per_clip_normalisation_off():
    torch.manual_seed(0)
    encoder = encoders.build("hubert", normalize=False)
    clip = chirp(0.5)
    assert not encoder.feature_extractor.do_normalize
    assert torch.equal(encoder.preprocess([clip])["input_values"][0], torch.from_numpy(clip))
    assert not torch.allclose(encoder.encode([louder_and_off_centre(clip)]), encoder.encode([clip]), atol=1e-2)


def test_normalize_none_keeps_the_folders_setting_and_a_bool_forces_it(tmp_path):
    folder = waveform_folder(tmp_path, do_normalize=False)
    assert not encoders.build("wavlm", folder).feature_extractor.do_normalize
    assert encoders.build("wavlm", folder, normalize=True).feature_extractor.do_normalize
    assert encoders.build("wavlm", folder).load_options() == {}


@pytest.mark.parametrize("from_folder", [True, False], ids=["source folder", "random weights"])
def test_the_normalize_option_survives_modrwkv_save_and_load(tmp_path, llm, from_folder):
    source = waveform_folder(tmp_path / "encoder", do_normalize=False) if from_folder else None
    model = ModRWKV.build(llm, [encoders.build("wavlm", source, normalize=True)])
    loaded = same_on_reload(model, tmp_path / "mm")
    assert loaded.encoders["audio"].normalize is True and loaded.encoders["audio"].feature_extractor.do_normalize
    if from_folder:
        assert loaded.config.modalities["audio"].options == {"normalize": True}


# -- Whisper frame count ----------------------------------------------------------------------------


def whisper_pair():
    """The default and the upstream_frames Whisper with the same random weights (a 2 s window, 100 features)."""
    torch.manual_seed(0)
    default = encoders.build("whisper")
    upstream = encoders.build("whisper", upstream_frames=True)
    upstream.load_state_dict(default.state_dict())
    return default, upstream


def test_upstream_frames_keeps_half_the_mel_frames_plus_one_for_an_even_count():
    default, upstream = whisper_pair()
    clip = chirp(0.5)  # 8000 samples: 50 mel frames of 160
    features = upstream.encode([clip])
    assert features.shape[1] == 26 and default.encode([clip]).shape[1] == 25  # 50//2 + 1 against ceil(50/2)
    torch.testing.assert_close(features[:, :25], default.encode([clip]), rtol=0, atol=0)


def test_upstream_frames_keeps_the_same_count_as_ceil_for_an_odd_count():
    default, upstream = whisper_pair()
    clip = chirp(8160 / 16_000)  # 51 mel frames
    assert upstream.encode([clip]).shape[1] == default.encode([clip]).shape[1] == 26


def test_upstream_frames_never_keeps_more_than_the_encoder_produced():
    _, upstream = whisper_pair()
    assert upstream.encode([chirp(3.0)]).shape[1] == 100  # 200 mel frames: 101 asked, one window of 100 made


@pytest.mark.parametrize("from_folder", [True, False], ids=["source folder", "random weights"])
def test_the_upstream_frames_option_survives_modrwkv_save_and_load(tmp_path, llm, from_folder):
    source = None
    if from_folder:
        hub_layout_folder("whisper", tmp_path / "encoder")
        source = str(tmp_path / "encoder")
    torch.manual_seed(0)
    model = ModRWKV.build(llm, [encoders.build("whisper", source, window_seconds=1, upstream_frames=True)
                                if from_folder else encoders.build("whisper", upstream_frames=True)])
    loaded = same_on_reload(model, tmp_path / "mm")
    assert loaded.encoders["audio"].upstream_frames
    if from_folder:
        assert loaded.config.modalities["audio"].options == {"window_seconds": 1, "upstream_frames": True}
