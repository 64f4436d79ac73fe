"""ModelService's batch lifecycle: per-request failures, no sticky state, MMS compatibility.

The services here are small real ones (word counting), so the base-class
behaviour is tested on its own; the MXNet services are covered in
test_sdk_mxnet_service.py. The last tests load a handler with the installed
MMS's own model loader and run a batch through its ``Service.predict``.
"""
from __future__ import annotations

import json
import struct
import textwrap
import uuid

import pytest

from service_sdk import Context, ModelService, RequestError, ServiceError
from service_sdk.services.base import request_body, request_json


class WordCounter(ModelService):
    """Counts words of {"text": ...}; a request with "boom" makes the model itself fail."""

    def initialize(self, context):
        super().initialize(context)
        self.loads = getattr(self, "loads", 0) + 1

    def preprocess_request(self, request, idx):
        document = request_json(request)
        if not isinstance(document, dict) or "text" not in document:
            raise RequestError('expected {"text": ...}', status=422)
        return document["text"]

    def inference(self, model_input):
        if "boom" in model_input:
            raise RuntimeError("model failure")
        if "oom" in model_input:
            raise MemoryError()
        return [len(text.split()) for text in model_input]

    def postprocess(self, output):
        return [{"words": n} for n in output]


def _context(batch_size: int = 4) -> Context:
    return Context("words", "/nonexistent", {"model": {"modelName": "words"}}, batch_size)


def _serve(service, context, bodies):
    context.for_batch([{} for _ in bodies])
    return service.handle([{"body": body} for body in bodies], context)


def test_bad_requests_fail_alone_and_the_rest_are_answered():
    service, context = WordCounter(), _context()
    bodies = [b'{"text": "one two"}', b"", b"{not json", b'{"other": 1}', {"text": "already parsed"}]
    out = _serve(service, context, bodies)
    assert out[0] == {"words": 2} and out[4] == {"words": 2}
    statuses = [context.get_response_status(i)[0] for i in range(len(bodies))]
    assert statuses == [200, 400, 400, 422, 200]
    for idx in (1, 2, 3):
        body = json.loads(out[idx])
        assert body["code"] == statuses[idx] and body["message"]
        assert context.get_response_content_type(idx) == "application/json"
    assert "empty" in json.loads(out[1])["message"]
    assert "not valid JSON" in json.loads(out[2])["message"]


def test_no_error_state_sticks_to_the_next_batch():
    service, context = WordCounter(), _context()
    _serve(service, context, [b"", b"{bad"])
    out = _serve(service, context, [b'{"text": "a b c"}', b'{"text": "d"}'])
    assert out == [{"words": 3}, {"words": 1}]
    assert [context.get_response_status(i)[0] for i in range(2)] == [200, 200]


def test_a_batch_of_only_bad_requests_never_reaches_the_model():
    service, context = WordCounter(), _context()
    out = _serve(service, context, [b"", b"[1, 2]"])
    assert [context.get_response_status(i)[0] for i in range(2)] == [400, 422]
    assert all(json.loads(body)["code"] >= 400 for body in out)
    assert [m.name for m in context.metrics.records] == ["PreprocessTime"]


def test_model_errors_propagate_for_the_server_to_answer_503():
    service, context = WordCounter(), _context()
    with pytest.raises(RuntimeError, match="model failure"):
        _serve(service, context, [b'{"text": "fine"}', b'{"text": "boom"}'])


def test_memory_error_propagates_for_the_server_to_answer_507():
    service, context = WordCounter(), _context()
    with pytest.raises(MemoryError):
        _serve(service, context, [b'{"text": "oom"}'])


def test_stage_timings_are_reported_as_metrics():
    service, context = WordCounter(), _context()
    _serve(service, context, [b'{"text": "x"}'])
    names = [(m.name, m.unit) for m in context.metrics.records]
    assert names == [("PreprocessTime", "ms"), ("InferenceTime", "ms"), ("PostprocessTime", "ms")]
    assert all(m.value >= 0 for m in context.metrics.records)


def test_request_error_from_a_whole_batch_stage_fails_every_slot():
    class Picky(WordCounter):
        def inference(self, model_input):
            raise RequestError("batch refused", status=409)

    service, context = Picky(), _context()
    out = _serve(service, context, [b'{"text": "a"}', b'{"text": "b"}'])
    assert [context.get_response_status(i)[0] for i in range(2)] == [409, 409]
    assert json.loads(out[0])["message"] == "batch refused"


def test_postprocess_returning_the_wrong_count_is_a_server_error():
    class Short(WordCounter):
        def postprocess(self, output):
            return []

    with pytest.raises(RuntimeError, match="returned 0 responses for 1"):
        _serve(Short(), _context(), [b'{"text": "a"}'])


def test_entry_point_initialises_once_and_propagates_load_errors():
    handle = WordCounter.entry_point()
    context = _context()
    assert handle(None, context) is None
    context.for_batch([{}])
    assert handle([{"body": b'{"text": "x y"}'}], context) == [{"words": 2}]
    assert handle.service_class is WordCounter

    class Broken(ModelService):
        def initialize(self, context):
            raise ServiceError("weights missing")

        def inference(self, model_input):
            return model_input

    with pytest.raises(ServiceError, match="weights missing"):
        Broken.entry_point()(None, context)


def test_request_error_only_accepts_client_statuses():
    with pytest.raises(ValueError):
        RequestError("no", status=500)
    assert RequestError("too big", status=413).to_body() == {
        "code": 413, "type": "Request Entity Too Large", "message": "too big"}


def test_request_body_finds_body_data_or_the_single_field():
    assert request_body({"body": b"x"}) == b"x"
    assert request_body({"data": b"y"}) == b"y"
    assert request_body({"file": b"z"}) == b"z"
    with pytest.raises(RequestError, match="no request body"):
        request_body({"a": b"1", "b": b"2"})


# -- the real MMS worker contract -------------------------------------------

HANDLER_SOURCE = '''
from tests.test_sdk_base import WordCounter
handle = WordCounter.entry_point()
'''


def _mms_request(idx: int, value, content_type: str = "application/json") -> dict:
    return {"requestId": f"req-{idx}".encode(), "parameters": [
        {"name": "body", "contentType": content_type, "value": value}]}


def _parse_mms_response(message: bytes) -> list[tuple[int, str, bytes]]:
    """Decode MMS's binary predict response into (status, phrase, body) per request."""
    def take_int(pos):
        return struct.unpack("!i", message[pos:pos + 4])[0], pos + 4

    def take_bytes(pos):
        length, pos = take_int(pos)
        return message[pos:pos + length], pos + length

    _, pos = take_int(0)
    _, pos = take_bytes(pos)
    replies = []
    while True:
        length, after = take_int(pos)
        if length == -1:
            return replies
        _, pos = take_bytes(pos)
        _, pos = take_bytes(pos)
        status, pos = take_int(pos)
        phrase, pos = take_bytes(pos)
        headers, pos = take_int(pos)
        for _ in range(2 * headers):
            _, pos = take_bytes(pos)
        body, pos = take_bytes(pos)
        replies.append((status, phrase.decode(), body))


def _load_with_mms(tmp_path, monkeypatch, source: str):
    from mms.model_loader import MmsModelLoader

    module = f"handler_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return MmsModelLoader().load("words", str(tmp_path), f"{module}:handle", None, 4)


def test_mms_loader_and_predict_answer_per_request_statuses(tmp_path, monkeypatch):
    service = _load_with_mms(tmp_path, monkeypatch, HANDLER_SOURCE)
    batch = [_mms_request(0, {"text": "a b c"}), _mms_request(1, b"", "application/octet-stream"),
             _mms_request(2, {"nope": 1})]
    replies = _parse_mms_response(bytes(service.predict(batch)))
    assert [r[0] for r in replies] == [200, 400, 422]
    assert json.loads(replies[0][2]) == {"words": 3}
    assert json.loads(replies[2][2])["type"] == "Unprocessable Entity"


def test_mms_registration_fails_when_initialize_raises(tmp_path, monkeypatch):
    source = '''
    from service_sdk import ModelService, ServiceError
    class Broken(ModelService):
        def initialize(self, context):
            raise ServiceError("weights missing")
        def inference(self, model_input):
            return model_input
    handle = Broken.entry_point()
    '''
    with pytest.raises(ServiceError, match="weights missing"):
        _load_with_mms(tmp_path, monkeypatch, source)
