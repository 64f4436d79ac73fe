"""Real photos through the image pipeline: decoding, draft mode, refusals, a vision service.

The classifier here has random weights (no real ImageNet weights exist
offline), so these tests check decoding, shapes, statuses and the answer's
form - not what the photos show. Prediction quality is tested on the trained
digits model in test_sdk_mxnet_service.py.
"""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from service_sdk import Context, RequestError
from service_sdk.services import MXNetVisionService
from service_sdk.utils import image as imaging
from tests.support.assets import images_dir

IMAGES = images_dir()
LABELS = ["cat", "dog", "bird", "car", "plane"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces ``width`` x ``height`` with almost no pixel data (a bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))

    header = struct.pack("!IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """kitten.jpg blown up to 4800x4800 (23 megapixels), re-encoded."""
    with Image.open(IMAGES / "kitten.jpg") as kitten:
        buffer = io.BytesIO()
        kitten.resize((4800, 4800)).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def vision_model_dir(tmp_path_factory) -> Path:
    """A small random-weight RGB classifier (64x64 input, 5 classes), exported as a checkpoint."""
    import mxnet as mx
    from mxnet.gluon import nn

    mx.random.seed(3)
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, 3, strides=2, activation="relu"), nn.BatchNorm(), nn.GlobalAvgPool2D(), nn.Dense(5))
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 64, 64)))
    model_dir = tmp_path_factory.mktemp("photos")
    net.export(str(model_dir / "photos"), epoch=0)
    signature = {"inputs": [{"data_name": "data", "data_shape": [0, 3, 64, 64]}],
                 "outputs": [{"data_name": "scores", "data_shape": [0, 5]}]}
    (model_dir / "signature.json").write_text(json.dumps(signature))
    (model_dir / "synset.txt").write_text("\n".join(LABELS) + "\n")
    return model_dir


def test_kitten_decodes_as_rgb_at_full_size():
    picture = imaging.read_image((IMAGES / "kitten.jpg").read_bytes())
    assert (picture.mode, picture.size) == ("RGB", (720, 720))
    pixels = imaging.to_array(picture)
    assert pixels.shape == (720, 720, 3) and 0 <= pixels.min() < pixels.max() <= 255


def test_large_jpeg_is_decoded_in_draft_mode_at_the_needed_scale(big_jpeg):
    picture = imaging.read_image(big_jpeg, "RGB", size_hint=(224, 224))
    assert picture.size == (600, 600)  # 1/8 scale: the smallest JPEG scale still >= 224
    assert imaging.read_image(big_jpeg, "RGB").size == (4800, 4800)


def test_greyscale_photo_converts_for_an_rgb_model_and_back():
    camera = (IMAGES / "camera.png").read_bytes()
    assert imaging.read_image(camera, "RGB").mode == "RGB"
    assert imaging.to_array(imaging.read_image(camera, "L")).shape[-1] == 1


@pytest.mark.parametrize("width,height", [(8000, 8000), (40000, 40000)])
def test_decompression_bombs_are_refused_with_413_before_decoding(width, height):
    """8000^2 trips our limit; 40000^2 trips Pillow's own bomb check first - both are 413."""
    with pytest.raises(RequestError) as refused:
        imaging.read_image(_png_header_only(width, height))
    assert refused.value.status == 413


def test_truncated_jpeg_is_a_400():
    data = (IMAGES / "kitten.jpg").read_bytes()
    with pytest.raises(RequestError) as refused:
        imaging.read_image(data[: len(data) // 2])
    assert refused.value.status == 400


def test_fit_modes_and_normalisation():
    with Image.open(IMAGES / "3dogs.jpg") as dogs:
        dogs.load()
        assert imaging.fit(dogs, (64, 32), "stretch").size == (64, 32)
        cropped = imaging.fit(dogs, (64, 64), "center_crop")
    assert cropped.size == (64, 64)
    array = imaging.normalize(imaging.to_array(cropped), 1 / 255, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert array.dtype == np.float32 and -2.0 - 1e-6 <= array.min() and array.max() <= 2.0 + 1e-6
    batch = imaging.to_nchw([imaging.to_array(cropped)] * 2)
    assert batch.shape == (2, 3, 64, 64)
    np.testing.assert_array_equal(batch[0, :, 10, 20], np.asarray(cropped)[10, 20])


@pytest.mark.parametrize("resize_mode", ["stretch", "center_crop"])
def test_vision_service_on_real_photos_with_bad_requests_mixed_in(vision_model_dir, big_jpeg, resize_mode):
    class Photos(MXNetVisionService):
        mean = (0.485, 0.456, 0.406)
        std = (0.229, 0.224, 0.225)
        top_k = 3

    Photos.resize_mode = resize_mode
    context = Context("photos", str(vision_model_dir), {"model": {"modelName": "photos"}}, 4)
    service = Photos()
    service.handle(None, context)
    kitten = (IMAGES / "kitten.jpg").read_bytes()
    bodies = [kitten, _png_header_only(9000, 9000), kitten[:5000], (IMAGES / "astronaut.png").read_bytes(),
              big_jpeg, (IMAGES / "camera.png").read_bytes(), (IMAGES / "3dogs.jpg").read_bytes()]
    context.for_batch([{} for _ in bodies])
    out = service.handle([{"body": body} for body in bodies], context)
    statuses = [context.get_response_status(i)[0] for i in range(len(bodies))]
    assert statuses == [200, 413, 400, 200, 200, 200, 200]
    for idx in (0, 3, 4, 5, 6):
        assert [set(entry) for entry in out[idx]] == [{"probability", "class"}] * 3
        assert {entry["class"] for entry in out[idx]} <= set(LABELS)
        assert 0 < sum(entry["probability"] for entry in out[idx]) <= 1.0 + 1e-6
    assert json.loads(out[1])["code"] == 413


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_one_pass_tensor_equals_the_step_by_step_pipeline(mode):
    """``to_tensor`` (one float conversion, CHW directly) gives the values of the three-step path."""
    picture = imaging.read_image((IMAGES / "kitten.jpg").read_bytes(), mode, (224, 224))
    assert picture.size == (360, 360)  # drafted at half scale: 720x720 still covers 224x224
    fitted = imaging.fit(picture, (224, 224))
    mean, std = (0.485, 0.456, 0.406)[: len(mode)], (0.229, 0.224, 0.225)[: len(mode)]
    stepwise = imaging.to_chw(imaging.normalize(imaging.to_array(fitted), 1 / 255, mean, std))
    tensor = imaging.to_tensor(fitted, 1 / 255, mean, std)
    assert tensor.dtype == np.float32 and tensor.shape == (len(mode), 224, 224) and tensor.flags.c_contiguous
    np.testing.assert_allclose(tensor, stepwise, rtol=1e-5, atol=1e-5)


def test_center_crop_in_one_resize_keeps_the_two_step_picture():
    with Image.open(IMAGES / "3dogs.jpg") as dogs:
        dogs.load()
        for size in ((64, 64), (64, 48), (48, 64)):
            once = np.asarray(imaging.fit(dogs, size, "center_crop", Image.BILINEAR), dtype=np.float32)
            twice = np.asarray(imaging.center_crop(imaging.resize_shorter(dogs, max(size)), size), dtype=np.float32)
            assert once.shape == twice.shape == (size[1], size[0], 3)
            assert np.abs(once - twice).mean() < 2.0  # sub-pixel differences only, out of 255
