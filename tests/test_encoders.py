"""The encoder registry, input loading and the five built-in encoders, with tiny random weights."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image, ImageDraw

from modrwkv import encoders
from modrwkv.encoders.dinov2 import COLOUR_SCALE
from modrwkv.encoders.media import MAX_IMAGE_PIXELS, MediaError, load_audio, load_image, load_series
from modrwkv.encoders.wavenet import WaveNetEncoder

SR = 16_000


def drawing(width: int = 64, height: int = 48) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, 36, 36), fill="red")
    draw.rectangle((30, 20, 60, 44), fill="navy")
    return image


def chirp(seconds: float, sample_rate: int = SR) -> np.ndarray:
    """A 200 -> 2000 Hz sweep."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * (200 * t + 900 * t**2 / seconds))).astype(np.float32)


def sinusoid(steps: int) -> np.ndarray:
    t = np.arange(steps)
    return 10.0 + 3.0 * np.sin(2 * np.pi * t / 24) + 0.01 * t


@pytest.fixture(scope="module")
def built() -> dict[str, encoders.Encoder]:
    torch.manual_seed(0)
    return {name: encoders.build(name) for name in encoders.available()}


def test_registry_lists_the_builtins() -> None:
    assert encoders.available() == ["clip", "dinov2", "hubert", "siglip2", "wavenet", "wavlm", "whisper"]


def test_unknown_encoder_names_the_available_ones() -> None:
    with pytest.raises(ValueError,
                       match="unknown encoder 'dino'.*clip, dinov2, hubert, siglip2, wavenet, wavlm, whisper"):
        encoders.build("dino")


@pytest.mark.parametrize("name", ["clip", "siglip2"])
def test_image_encoder_gives_patch_features(built: dict[str, encoders.Encoder], name: str) -> None:
    encoder = built[name]
    features = encoder.encode([drawing(), np.asarray(drawing(40, 90))])
    assert encoder.modality == "image"
    assert features.shape == (2, 16, encoder.output_dim)  # 32x32 pixels in 8x8 patches, no CLS token
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("name", ["whisper", "wavlm", "hubert"])
def test_audio_encoder_gives_50_features_per_second(built: dict[str, encoders.Encoder], name: str) -> None:
    encoder = built[name]
    features = encoder.encode([chirp(1.5), chirp(0.5)])
    assert encoder.modality == "audio"
    assert features.shape[0] == 2 and features.shape[2] == encoder.output_dim
    assert abs(features.shape[1] - 75) <= 1  # the longest input, 1.5 s at 20 ms per feature
    assert torch.isfinite(features).all()


def test_whisper_states_its_window(built: dict[str, encoders.Encoder]) -> None:
    assert built["whisper"].max_seconds == 2.0  # the tiny config's 100 positions; 30.0 for real checkpoints
    assert built["whisper"].encode([chirp(3.0)]).shape[1] == 100  # cut to one window, as Whisper does


def test_whisper_shortened_window_keeps_the_first_positions_and_cuts_at_the_new_window() -> None:
    torch.manual_seed(0)
    full = encoders.build("whisper")  # random tiny config: a 2 s window of 100 positions
    short = encoders.build("whisper")
    short.load_state_dict(full.state_dict())
    short.shorten_window(1)

    assert short.max_seconds == 1.0 and short.load_options() == {"window_seconds": 1}
    assert torch.equal(short.model.embed_positions.weight, full.model.embed_positions.weight[:50])
    assert short.encode([chirp(3.0)]).shape[1] == 50  # one 1 s window
    with pytest.raises(ValueError, match="from 1 to 2"):
        full.shorten_window(3)


def test_dinov2_patch_colours_append_each_patchs_mean_colour_to_its_features() -> None:
    torch.manual_seed(0)
    plain = encoders.build("dinov2")  # random tiny config: 32x32 images in 8x8 patches, a 4x4 grid
    coloured = encoders.build("dinov2", patch_colours=True)
    coloured.load_state_dict(plain.state_dict())
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[:, :16] = (255, 0, 0)  # red left half, blue right half
    image[:, 16:] = (0, 0, 255)
    features = coloured.encode([Image.fromarray(image)])

    assert coloured.output_dim == plain.output_dim + 3 and coloured.load_options() == {"patch_colours": True}
    torch.testing.assert_close(features[..., :-3], plain.encode([Image.fromarray(image)]))
    grid = features[0, :, -3:].reshape(4, 4, 3) / COLOUR_SCALE
    torch.testing.assert_close(grid[:, :2], torch.tensor([1.0, -1.0, -1.0]).expand(4, 2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[:, 2:], torch.tensor([-1.0, -1.0, 1.0]).expand(4, 2, 3), atol=1e-5, rtol=0)


def test_preprocessing_runs_numpy_on_one_blas_thread(built: dict[str, encoders.Encoder],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import threadpool_info

    encoder = built["dinov2"]
    seen = []
    preprocess = encoder.preprocess
    monkeypatch.setattr(encoder, "preprocess", lambda items: seen.append(threadpool_info()) or preprocess(items))
    encoder.encode([Image.new("RGB", (40, 30), "red")])

    blas = [pool["num_threads"] for pool in seen[0] if pool["user_api"] == "blas"]
    assert blas and set(blas) == {1}


def test_images_of_any_size_are_encoded_together_as_each_alone(built: dict[str, encoders.Encoder],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = built["siglip2"]
    images = [Image.new("RGB", size, colour) for size, colour in (((40, 30), "red"), ((64, 64), "blue"),
                                                                  ((20, 90), "green"))]
    batches = []
    rows = encoder.rows
    monkeypatch.setattr(encoder, "rows", lambda inputs: batches.append(len(inputs["pixel_values"])) or rows(inputs))
    each = encoder.encode_each(images)

    assert batches == [3]
    for image, features in zip(images, each):
        torch.testing.assert_close(features, encoder.encode([image]), rtol=0, atol=0)


def test_audio_windows_of_different_lengths_are_encoded_together_each_cut_at_its_end(
        built: dict[str, encoders.Encoder]) -> None:
    encoder = built["whisper"]
    windows = [sinusoid(16000 * 2), sinusoid(16000 // 2), sinusoid(16000 + 4321)]
    each = encoder.encode_each(windows)
    assert [f.shape[1] for f in each] == [100, 25, 64]  # 50 features a second of each window's own audio
    for window, features in zip(windows, each):
        torch.testing.assert_close(features, encoder.encode([window]))


def test_an_unreadable_input_gets_its_error_and_the_others_are_encoded(built: dict[str, encoders.Encoder],
                                                                       tmp_path: Path) -> None:
    missing = tmp_path / "holiday.png"
    each = built["siglip2"].encode_each([Image.new("RGB", (32, 32), "red"), missing])
    assert each[0].shape[0] == 1
    assert isinstance(each[1], MediaError) and "holiday.png" in str(each[1])


def test_wavenet_gives_one_feature_per_step(built: dict[str, encoders.Encoder]) -> None:
    encoder = built["wavenet"]
    features = encoder.encode([sinusoid(96), sinusoid(64)])
    assert encoder.modality == "series"
    assert features.shape == (2, 96, encoder.output_dim)


def test_wavenet_batch_carries_normalisation_statistics(built: dict[str, encoders.Encoder]) -> None:
    series = sinusoid(50)
    batch = built["wavenet"].preprocess([series])
    restored = batch["values"][0, :, 0] * batch["std"][0, 0, 0] + batch["mean"][0, 0, 0]
    assert torch.allclose(restored, torch.tensor(series, dtype=torch.float32), atol=1e-4)
    assert batch["lengths"].tolist() == [50]


def test_image_file_round_trip(built: dict[str, encoders.Encoder], tmp_path: Path) -> None:
    path = tmp_path / "drawing.png"
    drawing().save(path)
    assert np.array_equal(np.asarray(load_image(path)), np.asarray(drawing()))
    assert torch.allclose(built["siglip2"].encode([path]), built["siglip2"].encode([drawing()]))


def test_audio_file_is_loaded_mono_at_16k(built: dict[str, encoders.Encoder], tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    left = chirp(1.5, 44_100)
    sf.write(path, np.stack([left, 0.5 * left], axis=1), 44_100)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.shape == (24_000,)
    assert np.abs(wave - chirp(1.5) * 0.75).max() < 0.05  # the average of both channels, resampled
    assert built["whisper"].encode([path]).shape[1] == 75


def test_text_file_given_as_image_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(MediaError, match=r"notes\.txt.*accepted formats: PNG, JPEG"):
        load_image(path)


def test_zero_length_audio_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((0, 2), np.float32), 44_100)
    with pytest.raises(MediaError, match="silence.wav' is empty"):
        load_audio(path)


def test_all_nan_series_is_refused() -> None:
    with pytest.raises(MediaError, match="every point is missing"):
        load_series(np.full(100, np.nan))


def test_missing_values_are_filled_forward_then_backward() -> None:
    filled = load_series([np.nan, 1.0, np.nan, 3.0, np.nan])
    assert filled.tolist() == [1.0, 1.0, 1.0, 3.0, 3.0]


def test_series_shorter_than_receptive_field_is_refused(built: dict[str, encoders.Encoder]) -> None:
    encoder = built["wavenet"]
    with pytest.raises(MediaError, match=f"fewer than the encoder's receptive field of {encoder.receptive_field}"):
        encoder.encode([sinusoid(encoder.receptive_field - 1)])


def test_50_megapixel_image_is_downscaled(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("RGB", (8000, 6250), (30, 120, 200)).save(path, compress_level=1)
    start = time.perf_counter()
    image = load_image(path)
    assert time.perf_counter() - start < 10
    assert image.width * image.height <= MAX_IMAGE_PIXELS
    assert abs(image.width / image.height - 8000 / 6250) < 1e-3
    assert image.getpixel((0, 0)) == (30, 120, 200)


def hub_layout_folder(name: str, folder: Path) -> torch.Tensor:
    """A tiny checkpoint as the Hub publishes it (full CLIP/SigLIP/Whisper models, not just the towers; DINOv2),
    written with transformers' own `save_pretrained`; returns one weight tensor the encoder must load."""
    import transformers as tf

    tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    vision = dict(tower, image_size=32, patch_size=8)
    text = dict(tower, vocab_size=64, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    if name == "siglip2":
        model = tf.SiglipModel(tf.SiglipConfig(text_config=text, vision_config=vision))
        tf.SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
        weight = model.vision_model.embeddings.patch_embedding.weight
    elif name == "clip":
        model = tf.CLIPModel(tf.CLIPConfig(text_config=text, vision_config=vision))
        tf.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
            folder
        )
        weight = model.vision_model.embeddings.patch_embedding.weight
    elif name == "whisper":
        config = tf.WhisperConfig(
            d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=100, max_target_positions=16, vocab_size=64,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        )
        model = tf.WhisperModel(config)
        tf.WhisperFeatureExtractor(chunk_length=2).save_pretrained(folder)
        weight = model.encoder.conv1.weight
    elif name == "dinov2":  # facebook/dinov2-*'s processor: shortest edge resized, then a centre crop
        model = tf.Dinov2Model(tf.Dinov2Config(**vision, mlp_ratio=2))
        tf.BitImageProcessorPil(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ).save_pretrained(folder)
        weight = model.embeddings.patch_embeddings.projection.weight
    else:
        model = encoders.build("wavlm").model
        tf.Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder)
        weight = model.feature_projection.projection.weight
    model.save_pretrained(folder)
    return weight


@pytest.mark.parametrize("name", ["clip", "dinov2", "siglip2", "wavlm", "whisper"])
def test_transformers_encoder_loads_a_hub_layout_folder(name: str, tmp_path: Path) -> None:
    weight = hub_layout_folder(name, tmp_path)
    encoder = encoders.build(name, tmp_path)
    assert any(torch.equal(weight, p) for p in encoder.parameters())
    item = drawing() if encoder.modality == "image" else chirp(1.0)
    assert encoder.encode([item]).shape[-1] == encoder.output_dim == 32


def test_wavenet_save_load_round_trip(built: dict[str, encoders.Encoder], tmp_path: Path) -> None:
    encoder = built["wavenet"]
    assert isinstance(encoder, WaveNetEncoder)
    encoder.save_pretrained(tmp_path / "wavenet")
    loaded = encoders.build("wavenet", tmp_path / "wavenet")
    series = [sinusoid(40)]
    assert torch.equal(loaded.encode(series), encoder.encode(series))


def test_wavenet_is_causal(built: dict[str, encoders.Encoder]) -> None:
    encoder = built["wavenet"]
    values = torch.randn(1, 64, 1)
    changed = values.clone()
    changed[0, 40] += 5.0
    with torch.no_grad():
        before, after = encoder(values), encoder(changed)
    assert torch.equal(before[:, :40], after[:, :40])
    assert not torch.allclose(before[:, 40:], after[:, 40:])
