"""The real MMS serves an INT8 digits archive unchanged, with batching, as accurately as FP32.

Both archives are built from the same trained digits CNN - the INT8 one with
``build --quantize int8`` calibrated on training-digit PNGs - and registered
side by side with ``batch_size=4``. All 360 held-out PNGs (never seen in
training or calibration) go through each model from eight concurrent clients.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from model_archiver import build_archive
from model_archiver.quantization import QuantizeOptions
from tests.support import digits
from tests.support.mms import importable_by_workers, java_missing_reason, running_server

pytestmark = [pytest.mark.mms, pytest.mark.slow, pytest.mark.skipif(java_missing_reason() is not None,
                                                  reason=java_missing_reason() or "")]

HANDLER = digits.EXAMPLE / "model" / "digits_service.py"
CLIENTS = 8


def write_pngs(folder: Path, images: np.ndarray) -> list[bytes]:
    folder.mkdir(parents=True)
    bodies = [digits.render_png(image) for image in images]
    for index, body in enumerate(bodies):
        (folder / f"{index:04d}.png").write_bytes(body)
    return bodies


def served_accuracy(server, name: str, bodies: list[bytes], labels: np.ndarray) -> float:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        responses = list(pool.map(lambda body: server.predict(name, body, "image/png"), bodies))
    for response in responses:
        assert response.status == 200, server.explain(response)
    predicted = np.array([int(r.json()[0]["class"]) for r in responses])
    return float((predicted == labels).mean())


def test_int8_archive_served_with_batching_matches_fp32_accuracy(trained_digits, tmp_path_factory):
    net, split = trained_digits
    model_dir = digits.export_model_dir(net, tmp_path_factory.mktemp("digits-model"), "digits")
    shutil.copy(HANDLER, model_dir / HANDLER.name)
    work = tmp_path_factory.mktemp("int8-work")
    write_pngs(work / "calibration", split.x_train[:64])
    held_out = write_pngs(work / "held-out", split.x_test)

    with running_server(tmp_path_factory.mktemp("mms-int8"), env=importable_by_workers("service_sdk")) as server:
        fp32 = build_archive(model_dir, model_name="digits", handler="digits_service:handle",
                             export_path=work / "fp32").path
        int8_result = build_archive(model_dir, model_name="digits", handler="digits_service:handle",
                                    export_path=work / "int8",
                                    quantize=QuantizeOptions(calibration=work / "calibration"))
        assert "quantization" in int8_result.manifest["model"]["extensions"]
        int8 = int8_result.path.rename(work / "digits-int8.mar")  # both are digits.mar; the store needs two names
        fp32_name = server.serve(fp32, model_name="digits-fp32", batch_size=4, max_batch_delay=50)
        int8_name = server.serve(int8, model_name="digits-int8", batch_size=4, max_batch_delay=50)
        fp32_accuracy = served_accuracy(server, fp32_name, held_out, split.y_test)
        int8_accuracy = served_accuracy(server, int8_name, held_out, split.y_test)

    assert len(held_out) >= 300
    assert fp32_accuracy >= 0.95
    assert fp32_accuracy - int8_accuracy <= 0.01, (fp32_accuracy, int8_accuracy)
