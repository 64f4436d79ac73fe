"""Hostile requests against a real MMS 1.1.11 worker: one batch, bad and good requests mixed.

The bad requests (malformed, deep or huge-integer JSON, a lying ``.npy``
header, NaN and infinity, non-UTF-8 text, broken images and decompression
bombs) each get a 4xx with a JSON body; the good requests of the same batch
get the predictions a direct MXNet forward gives; the worker that served
them is the same process afterwards. The last test shows why it matters: a
handler without the SDK, under MMS's own body decoding, loses its worker to
one malformed JSON body.

The image batch's answer (~3 KB) is read by the frontend in pieces; it used to
die on it whenever a split fell inside an error slot's response-header map
(an MMS 1.1.11 frontend bug), which is why error slots carry no headers there.

One server for the module; every model is registered with ``batch_size`` equal
to the number of requests sent at once and a long ``max_batch_delay``, so the
requests fill one batch (checked by the elapsed time).
"""
from __future__ import annotations

import io
import json
import shutil
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from model_archiver import build_archive
from tests.conftest import DIGITS_NAME
from tests.support import digits
from tests.support.mms import MMSServer, importable_by_workers, java_missing_reason, running_server
from tests.test_request_hardening import (BINARY, JSON, PLAIN_HANDLER, TENSOR_HANDLER, hostile_tensor_bodies,
                                          npy_bytes)

pytestmark = [pytest.mark.mms, pytest.mark.slow,
              pytest.mark.skipif(java_missing_reason() is not None, reason=java_missing_reason() or "")]

VISION_HANDLER = "from service_sdk.services import MXNetVisionService\n\nhandle = MXNetVisionService.entry_point()\n"
BATCH_DELAY_MS = 15_000


@pytest.fixture(scope="module")
def mms(tmp_path_factory) -> MMSServer:
    with running_server(tmp_path_factory.mktemp("mms-bad-requests"),
                        env=importable_by_workers("service_sdk")) as server:
        yield server


def _archive(digits_export: Path, work: Path, name: str, handler_source: str) -> Path:
    model_dir = work / f"{name}-model"
    shutil.copytree(digits_export, model_dir)
    (model_dir / "digits_handler.py").write_text(handler_source)
    built = build_archive(model_dir, model_name=DIGITS_NAME, handler="digits_handler:handle",
                          export_path=work / name, validate=False).path
    return built.rename(built.with_name(f"{name}.mar"))


def _serve_batch(mms: MMSServer, digits_export: Path, work: Path, name: str, handler: str,
                 bodies: list[tuple[bytes, str]]) -> str:
    archive = _archive(digits_export, work, name, handler)
    return mms.serve(archive, model_name=name, batch_size=len(bodies),
                     max_batch_delay=BATCH_DELAY_MS)


def _post_together(mms: MMSServer, name: str, bodies: list[tuple[bytes, str]]) -> list:
    """All bodies at once; they must have shared one batch (a split batch waits out the delay)."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        responses = list(pool.map(lambda item: mms.predict(name, item[0], item[1]), bodies))
    elapsed = time.monotonic() - started
    assert elapsed < BATCH_DELAY_MS / 1000, f"the requests were not served as one batch ({elapsed:.1f}s)"
    return responses


def _worker_pids(mms: MMSServer) -> set[int]:
    return {proc.pid for proc in mms.worker_processes()}


def _assert_json_4xx(mms: MMSServer, response, label: str, status: int = 400) -> str:
    """A 4xx whose body is the SDK's JSON error (no Content-Type in MMS: see ModelService._assemble)."""
    assert response.status == status, f"{label}: {mms.explain(response)}"
    error = response.json()
    assert error["code"] == status and error["message"], label
    return error["message"]


def _direct(net, x: np.ndarray) -> np.ndarray:
    import mxnet as mx

    return net(mx.nd.array(x)).asnumpy()


def test_tensor_batch_answers_the_good_and_refuses_each_bad_one(mms, digits_export, trained_digits, tmp_path):
    net, split = trained_digits
    bad = hostile_tensor_bodies(split.x_test[5])
    good = [(json.dumps(split.x_test[0].tolist()).encode(), JSON), (npy_bytes(split.x_test[1]), BINARY),
            (json.dumps({"data": split.x_test[2].tolist()}).encode(), JSON)]
    bodies = good + list(bad.values())
    name = _serve_batch(mms, digits_export, tmp_path, "digits-tensor", TENSOR_HANDLER, bodies)
    workers = _worker_pids(mms)

    responses = _post_together(mms, name, bodies)

    for response in responses[:3]:
        assert response.status == 200, mms.explain(response)
    served = np.array([next(iter(response.json().values())) for response in responses[:3]])
    np.testing.assert_allclose(served, _direct(net, split.x_test[:3]), rtol=1e-4, atol=1e-4)
    messages = {label: _assert_json_4xx(mms, response, label) for label, response in zip(bad, responses[3:])}
    assert "not valid JSON" in messages["malformed JSON"]
    assert "nested deeper" in messages["100,000-deep JSON"]
    assert "declares shape [1099511627776]" in messages["lying .npy header"]
    assert "NaN or infinite" in messages["NaN in JSON"]
    assert _worker_pids(mms) == workers, "the worker was replaced"
    assert "Worker died" not in mms.log_text(), mms.logs_excerpt()


def test_a_request_sent_as_a_form_or_without_a_body_is_told_the_fix(mms, digits_export, tmp_path):
    forms = [(b"[[1, 2]]", "application/x-www-form-urlencoded"), (b"a=1&b=2", "application/x-www-form-urlencoded")]
    name = _serve_batch(mms, digits_export, tmp_path, "digits-form", TENSOR_HANDLER, forms)
    for label, response in zip(["curl -d", "form fields"], _post_together(mms, name, forms)):
        message = _assert_json_4xx(mms, response, label)
        assert "Content-Type: application/json" in message and "--data-binary" in message, message
    empty = mms.predict(name, b"", "application/json")
    assert "the request body is empty" in _assert_json_4xx(mms, empty, "no body")


def _png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces ``width`` x ``height`` greyscale pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
            + chunk(b"IEND", b""))


def _top_class_direct(net, png: bytes) -> str:
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0
    return str(int(_direct(net, pixels[None, None]).argmax()))


def test_image_batch_answers_the_good_and_refuses_each_bad_one(mms, digits_export, trained_digits, tmp_path):
    net, split = trained_digits
    pngs = [digits.render_png(image) for image in split.x_test[:3]]
    bad = {
        "truncated PNG": (pngs[0][:60], "image/png", 400),
        "text sent as an image": (b"not an image at all", "image/png", 400),
        "JSON sent to an image model": (b'{"a": 1}', JSON, 400),
        "Pillow decompression bomb (10^10 pixels)": (_png_header_claiming(100_000, 100_000), "image/png", 413),
        "over the service's pixel limit (48 MP)": (_png_header_claiming(8_000, 6_000), "image/png", 413),
        "malformed JSON": (b"{oops", JSON, 400),
    }
    bodies = [(png, "image/png") for png in pngs] + [(body, kind) for body, kind, _ in bad.values()]
    name = _serve_batch(mms, digits_export, tmp_path, "digits-vision", VISION_HANDLER, bodies)
    workers = _worker_pids(mms)

    responses = _post_together(mms, name, bodies)

    for png, response in zip(pngs, responses[:3]):
        assert response.status == 200, mms.explain(response)
        assert response.json()[0]["class"] == _top_class_direct(net, png)
    for (label, (_, _, status)), response in zip(bad.items(), responses[3:]):
        _assert_json_4xx(mms, response, label, status)
    assert _worker_pids(mms) == workers, "the worker was replaced"


def test_without_the_sdk_mms_itself_kills_the_worker_on_malformed_json(mms, digits_export, tmp_path):
    """The failure the SDK prevents: MMS's own decoding raises before the handler runs (runs last: it kills one)."""
    bodies = [(b"[1]", JSON), (b"{oops", JSON)]
    name = _serve_batch(mms, digits_export, tmp_path, "plain", PLAIN_HANDLER, bodies)
    workers = _worker_pids(mms)
    responses = _post_together(mms, name, bodies)
    assert [response.status for response in responses] == [500, 500]
    assert responses[0].json()["message"] == "Worker died."
    deadline = time.monotonic() + 30
    while _worker_pids(mms) == workers and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _worker_pids(mms) != workers
