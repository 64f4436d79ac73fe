"""Hostile requests fail only their own slot with a JSON 4xx, in-process and through `run`.

The model is the real digits CNN served as tensors (``MXNetModelService``):
the good requests of a batch that also holds bad ones must still get the
predictions a direct Gluon forward gives. The same hostile bodies go through
a real MMS worker in test_mms_bad_requests.py.
"""
from __future__ import annotations

import io
import json
import shutil
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from model_archiver import build_archive
from service_sdk import Context, RequestError
from service_sdk.request_bodies import (DECODE_SWITCH, UndecodableBody, claim_body_decoding, decode_value,
                                        request_body, request_json)
from service_sdk.request_limits import DEFAULT_LIMITS, RequestLimits, check_npy_header, parse_json
from service_sdk.runner import RequestInput, run_archive
from service_sdk.services import MXNetModelService
from service_sdk.tensor_requests import load_npy
from tests.conftest import DIGITS_NAME
from tests.support import digits

TENSOR_HANDLER = "from service_sdk.services import MXNetModelService\n\nhandle = MXNetModelService.entry_point()\n"
TOLERANT_HANDLER = '''from service_sdk.services import MXNetModelService


class TolerantService(MXNetModelService):
    allow_non_finite = True


handle = TolerantService.entry_point()
'''
# No SDK: what MMS's own body decoding does to a plain handler.
PLAIN_HANDLER = '''def handle(data, context):
    return None if data is None else [repr(type(row.get("body"))) for row in data]
'''
JSON = "application/json"
BINARY = "application/octet-stream"


def lying_npy(claimed: int = 2 ** 40) -> bytes:
    """193 bytes whose .npy header claims ``claimed`` float64 values (np.load allocates them first)."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({claimed},), }}"
    header = header.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 65


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def hostile_tensor_bodies(item: np.ndarray) -> dict[str, tuple[bytes, str]]:
    """One bad body per class, for a model whose input item has ``item``'s shape."""
    with_nan = item.copy()
    with_nan.flat[3] = np.nan
    with_inf = item.copy()
    with_inf.flat[0] = np.inf
    return {
        "malformed JSON": (b'[[[0.1, 0.2', JSON),
        "100,000-deep JSON": (b"[" * 100_000 + b"]" * 100_000, JSON),
        "5,000-digit integer": (b"[" + b"9" * 5000 + b"]", JSON),
        "lying .npy header": (lying_npy(), BINARY),
        "NaN in JSON": (json.dumps(with_nan.tolist()).encode(), JSON),
        "infinity in .npy": (npy_bytes(with_inf), BINARY),
        "non-UTF-8 text": (b"\xff\xfe\x00garbage", "text/plain"),
        "empty body": (b"", JSON),
    }


# -- the limits, one by one ---------------------------------------------------------


@pytest.mark.parametrize("body,message", [
    (b"[" + b"9" * 5000 + b"]", "longer than 100 digits"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32"),
    (b'{"a": [1, 2', "not valid JSON"),
    (b"\xff[1]", "not UTF-8"),
])
def test_json_limits_refuse_with_a_request_error(body, message):
    with pytest.raises(RequestError, match=message) as caught:
        parse_json(body)
    assert caught.value.status == 400


def test_json_size_limit_is_the_services_to_set():
    small = RequestLimits(max_json_bytes=10)
    with pytest.raises(RequestError, match="over the 10-byte limit"):
        parse_json(b"[1, 2, 3, 4, 5]", small)
    assert parse_json(b"[1, 2, 3, 4, 5]") == [1, 2, 3, 4, 5]
    assert DEFAULT_LIMITS.max_json_bytes >= 6_553_500  # never below MMS's own request size cap


def test_lying_npy_header_is_refused_before_any_allocation():
    body = lying_npy()
    assert len(body) == 193
    tracemalloc.start()
    try:
        with pytest.raises(RequestError, match=r"declares shape \[1099511627776\]"):
            load_npy(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.parametrize("array", [
    np.arange(12, dtype="<f4").reshape(3, 4),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.array(7, dtype=">i2"),
    np.zeros((0, 5), dtype="f8"),
])
def test_honest_npy_round_trips(array):
    for raw in (npy_bytes(array), bytearray(npy_bytes(array))):
        loaded = load_npy(raw)
        assert loaded.dtype == array.dtype and loaded.shape == array.shape
        np.testing.assert_array_equal(loaded, array)
        assert loaded.flags.writeable


@pytest.mark.parametrize("array,message", [
    (np.array(["text"]), "not a numeric tensor type"),
    (np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), "not a plain numeric type"),
    (np.array([np.datetime64("2020-01-01")]), "not a numeric tensor type"),
])
def test_npy_that_is_not_a_numeric_tensor_is_refused(array, message):
    with pytest.raises(RequestError, match=message):
        load_npy(npy_bytes(array))


def test_npy_dtype_that_numpy_cannot_parse_is_refused():
    """numpy's dtype parser raises SyntaxError on ',<i2' (found by fuzzing)."""
    raw = npy_bytes(np.zeros(3, dtype="<i2")).replace(b"'<i2'", b"',<i2'")
    with pytest.raises(RequestError, match="not a numpy type"):
        load_npy(raw)


def test_npy_header_longer_than_numpys_own_limit_is_refused():
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }".ljust(20_000) + "\n"
    raw = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + b"\0" * 4
    with pytest.raises(RequestError, match="over 10000"):
        check_npy_header(raw)


# -- who decodes bodies ---------------------------------------------------------------


def test_bodies_are_decoded_by_mms_rule_and_bad_ones_fail_when_read():
    assert decode_value(bytearray(b'{"a": [1]}'), JSON) == {"a": [1]}
    assert decode_value(b"h\xc3\xa9", "text/plain") == "hé"
    assert decode_value(b'{"a": 1}', "application/json; charset=utf-8") == b'{"a": 1}'  # MMS: exact match only
    assert decode_value(b"\x89PNG", "image/png") == b"\x89PNG"
    assert decode_value({"already": "parsed"}, JSON) == {"already": "parsed"}
    bad = decode_value(b"{oops", JSON)
    assert isinstance(bad, UndecodableBody) and bad == b"{oops"  # still the raw bytes for direct readers
    with pytest.raises(RequestError, match="not valid JSON"):
        request_body({"body": bad})
    with pytest.raises(RequestError, match="not UTF-8"):
        request_body({"body": decode_value(b"\xff", "text/csv")})


def test_request_json_accepts_raw_and_decoded_bodies():
    assert request_json({"body": b"[1, 2]"}) == [1, 2]
    assert request_json({"body": bytearray(b"[1, 2]")}) == [1, 2]
    assert request_json({"body": "[1, 2]"}) == [1, 2]
    assert request_json({"body": [1, 2]}) == [1, 2]


@pytest.mark.parametrize("request_", [{}, {"a": b"1", "b": b"2"}, {"body": b""}, {"body": bytearray()}])
def test_a_request_without_a_body_is_told_how_to_send_one(request_):
    with pytest.raises(RequestError) as caught:
        request_body(request_)
    assert "Content-Type: application/json" in caught.value.message
    assert "--data-binary" in caught.value.message


def test_decoding_is_claimed_only_in_a_process_that_serves_the_model(monkeypatch):
    monkeypatch.setenv(DECODE_SWITCH, "true")
    in_process = Context("m", "/nonexistent", {})
    assert claim_body_decoding(in_process) is False
    import os
    assert os.environ[DECODE_SWITCH] == "true"  # a test or notebook keeps its environment
    assert claim_body_decoding(Context("m", "/nonexistent", {}, dedicated_process=True)) is True
    assert os.environ[DECODE_SWITCH] == "false"


# -- a batch in-process ---------------------------------------------------------------------


def _tensor_model_dir(digits_export: Path, target: Path, handler_source: str) -> Path:
    shutil.copytree(digits_export, target)
    (target / "digits_handler.py").write_text(handler_source)
    return target


def _direct_logits(net, x: np.ndarray) -> np.ndarray:
    import mxnet as mx

    return net(mx.nd.array(x)).asnumpy()


def _serve_in_process(service, model_dir: Path, bodies: list[tuple[bytes, str]], batch_size: int):
    context = Context(DIGITS_NAME, str(model_dir), {"model": {"modelName": DIGITS_NAME}}, batch_size)
    service.handle(None, context)
    context.for_batch([{"body": {"content-type": content_type}} for _, content_type in bodies])
    out = service.handle([{"body": bytearray(body)} for body, _ in bodies], context)
    return out, [context.get_response_status(i)[0] for i in range(len(bodies))], context


def test_in_process_batch_answers_the_good_and_refuses_each_bad_one(trained_digits, digits_dir):
    net, split = trained_digits
    good = [(json.dumps(x.tolist()).encode(), JSON) for x in split.x_test[:2]] + \
        [(npy_bytes(split.x_test[2]), BINARY)]
    bad = hostile_tensor_bodies(split.x_test[3])
    bodies = good + list(bad.values())
    out, statuses, context = _serve_in_process(MXNetModelService(), digits_dir, bodies, batch_size=4)
    assert statuses[:3] == [200] * 3
    output = digits.output_name(digits_dir / f"{DIGITS_NAME}-symbol.json")
    np.testing.assert_allclose(np.array([out[i][output] for i in range(3)]),
                               _direct_logits(net, split.x_test[:3]), rtol=1e-4, atol=1e-4)
    for index, label in enumerate(bad, start=3):
        assert statuses[index] == 400, label
        error = json.loads(out[index])
        assert error["code"] == 400 and error["message"], label
        assert context.get_response_content_type(index) == "application/json"


def test_non_finite_values_are_served_when_the_service_opts_in(trained_digits, digits_dir):
    _, split = trained_digits

    class Tolerant(MXNetModelService):
        allow_non_finite = True

    item = split.x_test[0].copy()
    item.flat[5] = np.nan
    body = (json.dumps(item.tolist()).encode(), JSON)
    _, strict, _ = _serve_in_process(MXNetModelService(), digits_dir, [body], batch_size=1)
    out, tolerant, _ = _serve_in_process(Tolerant(), digits_dir, [body], batch_size=1)
    assert strict == [400] and tolerant == [200]
    # The network (ReLU, max-pooling) turns the NaN into normal-looking scores:
    # why refusing is the default.
    assert len(next(iter(out[0].values()))) == 10


# -- the same through `run` ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tensor_mar(digits_export, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("tensor-mar")
    model_dir = _tensor_model_dir(digits_export, work / "model", TENSOR_HANDLER)
    return build_archive(model_dir, model_name=DIGITS_NAME, handler="digits_handler:handle", export_path=work,
                         validate=False).path


def test_run_answers_the_good_and_refuses_each_bad_one_in_one_batch(tensor_mar, trained_digits):
    net, split = trained_digits
    bad = hostile_tensor_bodies(split.x_test[4])
    inputs = [RequestInput(json.dumps(split.x_test[0].tolist()).encode(), JSON)]
    inputs += [RequestInput(body, content_type, label=label) for label, (body, content_type) in bad.items()]
    inputs += [RequestInput(npy_bytes(split.x_test[1]), BINARY)]
    result = run_archive(tensor_mar, inputs, batch_size=4)
    assert result.batch_error is None
    statuses = [response.status for response in result.responses]
    assert statuses == [200] + [400] * len(bad) + [200], dict(zip(["good", *bad, "good"], statuses))
    for response in result.responses[1:-1]:
        assert response.content_type == "application/json"
        assert response.json()["code"] == 400
    logits = np.array([next(iter(result.responses[i].json().values())) for i in (0, -1)])
    np.testing.assert_allclose(logits, _direct_logits(net, split.x_test[:2]), rtol=1e-4, atol=1e-4)
    messages = {label: result.responses[i].json()["message"] for i, label in enumerate(bad, start=1)}
    assert "not valid JSON" in messages["malformed JSON"]
    assert "nested deeper" in messages["100,000-deep JSON"]
    assert "digits" in messages["5,000-digit integer"]
    assert "declares shape [1099511627776]" in messages["lying .npy header"]
    assert "NaN or infinite" in messages["NaN in JSON"] and "NaN or infinite" in messages["infinity in .npy"]


def test_run_refuses_nan_only_where_the_service_did_not_opt_in(digits_export, trained_digits, tmp_path):
    _, split = trained_digits
    item = split.x_test[0].copy()
    item.flat[0] = np.inf
    model_dir = _tensor_model_dir(digits_export, tmp_path / "model", TOLERANT_HANDLER)
    archive = build_archive(model_dir, model_name=DIGITS_NAME, handler="digits_handler:handle",
                            export_path=tmp_path, validate=False).path
    result = run_archive(archive, [RequestInput(npy_bytes(item), BINARY)])
    assert result.responses[0].status == 200


def test_run_shows_what_mms_does_to_a_handler_without_the_sdk(digits_export, tmp_path):
    """A plain handler gets JSON parsed by the worker, and a malformed body kills the batch, as in MMS."""
    model_dir = _tensor_model_dir(digits_export, tmp_path / "model", PLAIN_HANDLER)
    archive = build_archive(model_dir, model_name=DIGITS_NAME, handler="digits_handler:handle",
                            export_path=tmp_path, validate=False).path
    decoded = run_archive(archive, [RequestInput(b"[1]", JSON), RequestInput(b"x", "text/plain"),
                                    RequestInput(b"x", BINARY)])
    assert [r.body.decode() for r in decoded.responses] == ["<class 'list'>", "<class 'str'>",
                                                            "<class 'bytearray'>"]
    died = run_archive(archive, [RequestInput(b"[1]", JSON), RequestInput(b"{oops", JSON)])
    assert [r.status for r in died.responses] == [500, 500]
    assert died.responses[0].json()["message"] == "Worker died."
    assert "MMS_DECODE_INPUT_REQUEST" in died.batch_error
