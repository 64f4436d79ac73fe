"""``OnnxRuntimeService`` serving real ONNX files: predictions match onnxruntime run
directly, and a bad request fails only its own slot with a 4xx JSON body."""
from __future__ import annotations

import io
import json

import numpy as np
import onnxruntime
import pytest

from service_sdk import Context, ServiceError
from service_sdk.services import OnnxRuntimeService
from tests.support import onnx_models


def _direct(path, name: str, array: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: array})[0]


def _serve(service, context, bodies):
    context.for_batch([{} for _ in bodies])
    return service.handle([{"body": body} for body in bodies], context)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def mlp_dir(tmp_path):
    onnx_models.save(onnx_models.dynamic_batch_mlp(), tmp_path / "mlp.onnx")
    return tmp_path


def test_batch_with_bad_requests_answers_the_good_ones(mlp_dir):
    rng = np.random.default_rng(5)
    good = rng.normal(size=(3, 4)).astype("float32")
    context = Context("mlp", str(mlp_dir), {"model": {"modelName": "mlp"}}, batch_size=6)
    service = OnnxRuntimeService()
    bodies = [
        json.dumps(good[0].tolist()).encode(),
        b"",
        json.dumps([1.0, 2.0]).encode(),
        _npy(good[1]),
        b'["a", "b", "c", "d"]',
        {"features": good[2].tolist()},
    ]
    out = _serve(service, context, bodies)
    statuses = [context.get_response_status(i)[0] for i in range(len(bodies))]
    assert statuses == [200, 400, 400, 200, 400, 200]
    expected = _direct(mlp_dir / "mlp.onnx", "features", good)
    for row, slot in enumerate((0, 3, 5)):
        np.testing.assert_allclose(out[slot]["probabilities"], expected[row], rtol=1e-6)
    assert "expected [4]" in json.loads(out[2])["message"]
    assert json.loads(out[1])["code"] == 400

    # nothing sticks: the next batch is all good
    again = _serve(service, context, [json.dumps(good[1].tolist()).encode()])
    assert context.get_response_status(0)[0] == 200
    np.testing.assert_allclose(again[0]["probabilities"], expected[1], rtol=1e-6)


def test_fixed_batch_model_runs_in_chunks(tmp_path):
    onnx_models.save(onnx_models.conv_bn_flatten(), tmp_path / "conv.onnx")  # batch fixed at 1
    rng = np.random.default_rng(6)
    images = rng.random((3, 2, 6, 6)).astype("float32")
    context = Context("conv", str(tmp_path), {"model": {"modelName": "conv"}}, batch_size=3)
    service = OnnxRuntimeService()
    out = _serve(service, context, [_npy(image) for image in images])
    assert service.fixed_batch == 1
    for image, response in zip(images, out):
        np.testing.assert_allclose(response["output"], _direct(tmp_path / "conv.onnx", "input", image[None])[0], rtol=1e-5)


def test_signature_names_must_match_the_model(mlp_dir):
    (mlp_dir / "signature.json").write_text(json.dumps({"inputs": [{"data_name": "pixels", "data_shape": [0, 4]}]}))
    context = Context("mlp", str(mlp_dir), {"model": {"modelName": "mlp"}})
    with pytest.raises(ServiceError, match=r"signature inputs \['pixels'\] are not inputs of the ONNX model"):
        OnnxRuntimeService().initialize(context)


def test_model_dir_needs_exactly_one_onnx_file(mlp_dir):
    onnx_models.save(onnx_models.dynamic_batch_mlp(), mlp_dir / "second.onnx")
    context = Context("mlp", str(mlp_dir), {"model": {"modelName": "mlp"}})
    with pytest.raises(ServiceError, match="exactly one .onnx file .*found: mlp.onnx, second.onnx"):
        OnnxRuntimeService().initialize(context)

    class Chosen(OnnxRuntimeService):
        model_file = "second.onnx"

    chosen = Chosen()
    chosen.initialize(context)
    assert chosen.output_names == ["probabilities"]
