"""A model-zoo architecture converted from ONNX and served by the real MMS at batch size 8.

ShuffleNet (from the onnx wheel's ``light/`` data, *random weights* in place of its
``ConstantOfShape`` nodes) reshapes for its channel shuffles with the export
batch (1) baked into 33 Reshape targets, and pads its average pools. The archive
built with ``-c`` must bind at batch 8 in the MMS worker (the converted Reshapes
copy the batch instead), and concurrent requests batched together must get the
answers onnxruntime gives for each one alone.
"""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime
import pytest

from model_archiver import build_archive
from tests.support import onnx_models
from tests.support.mms import MODEL_LOG, java_missing_reason, running_server

pytestmark = [pytest.mark.mms, pytest.mark.skipif(java_missing_reason() is not None, reason=java_missing_reason() or "")]

HANDLER = "from service_sdk.services import MXNetModelService\n\nhandle = MXNetModelService.entry_point()\n"
BATCH = 8


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_converted_shufflenet_is_served_at_batch_8(tmp_path):
    model_dir = tmp_path / "shufflenet"
    model_dir.mkdir()
    source = onnx_models.save(onnx_models.light_model("shufflenet"), model_dir / "shufflenet.onnx")
    (model_dir / "shufflenet_service.py").write_text(HANDLER)
    result = build_archive(model_dir, model_name="shufflenet", handler="shufflenet_service:handle",
                           export_path=tmp_path / "store", convert=True)

    images = np.random.default_rng(8).normal(size=(2 * BATCH, 3, 224, 224)).astype("float32")
    session = onnxruntime.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    expected = [session.run(None, {name: image[None]})[0][0] for image in images]

    with running_server(tmp_path / "mms") as server:
        served = server.serve(result.path, batch_size=BATCH, max_batch_delay=2000, response_timeout=120)
        logs = server.log_text() + server.log_text(MODEL_LOG)
        assert f"batch size {BATCH}" in logs, server.logs_excerpt()  # bound at 8 when loading
        with ThreadPoolExecutor(max_workers=BATCH) as pool:
            responses = list(pool.map(lambda image: server.predict(served, _npy(image)), images))
    for response, want in zip(responses, expected):
        assert response.status == 200, server.explain(response)
        (got,) = response.json().values()
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-5)
