"""The child process of the local runner: load a handler as the MMS worker does, serve one batch.

Run as a script (``runpy.run_path``), never imported as ``service_sdk.worker``:
the handler must find the archive's own (vendored) ``service_sdk`` first on
``sys.path``, exactly as in a stock MMS worker, so this file imports nothing
from the installed package. The context class is loaded from the sibling
``context.py`` by file path under a private name for the same reason.

Request bodies reach the handler as MMS 1.1.11's worker hands them over:
``bytearray`` values, except that while ``MMS_DECODE_INPUT_REQUEST`` is not
``false`` (read per request, as MMS does) ``application/json`` bodies arrive
parsed and ``text/*`` bodies as ``str``, and a body that fails to decode
fails the whole batch with 500 "Worker died." as it kills a real worker.
``service_sdk`` services switch that decoding off and decode bodies
themselves (``service_sdk.request_bodies``), so both agree on every body.

Protocol: ``argv[1]`` is a JSON job file (model dir, handler, batch size,
GPU, requests, result path). The child writes one JSON result document; if
it dies (SIGABRT from MXNet, OOM kill) there is no result and the parent
reports the signal.
"""
from __future__ import annotations

import base64
import importlib
import importlib.util
import inspect
import json
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable

log = logging.getLogger("service_sdk.worker")


def _load_context_module() -> Any:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "context.py")
    spec = importlib.util.spec_from_file_location("_service_sdk_runner_context", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _import_entry_point(job: dict, context: Any, warnings: list[str]) -> Callable:
    """MMS 1.x ``MmsModelLoader.load``: function entry point, else the module's single class."""
    module_name, _, function_name = job["handler"].partition(":")
    if module_name.endswith(".py"):
        module_name = module_name[:-3]
    module_name = module_name.split("/")[-1]
    module = importlib.import_module(module_name)
    entry = getattr(module, function_name or "handle", None)
    if entry is not None:
        entry(None, context)
        return entry
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    if len(classes) != 1:
        raise ValueError(f"expected one class defined in {module_name} or a function "
                         f"'{function_name or 'handle'}', found classes {[c.__name__ for c in classes]}")
    service = classes[0]()
    try:
        service.initialize(context)
    except Exception as exc:  # MMS logs and ignores this; we report it so it can be fixed
        warnings.append(f"{classes[0].__name__}.initialize raised {_one_line(exc)}; MMS would log it and "
                        "register the model anyway: bind a module-level 'handle' so load errors fail registration")
        log.exception("initialize failed")
    return service.handle


class WorkerDied(Exception):
    """What kills a real MMS worker before the handler runs (its own body decoding failed)."""


def _decode_value(raw: bytes, content_type: str) -> Any:
    """As ``mms.protocol.otf_message_handler._retrieve_input_data`` in MMS 1.1.11."""
    decode = os.environ.get("MMS_DECODE_INPUT_REQUEST") in (None, "true")
    try:
        if decode and content_type == "application/json":
            return json.loads(raw.decode("utf-8"))
        if decode and content_type.startswith("text"):
            return raw.decode("utf-8")
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WorkerDied(f"the MMS worker's own decoding of a {content_type} body failed ({_one_line(exc)}); "
                         "a real worker dies here. service_sdk services decode bodies themselves; other "
                         "handlers need MMS_DECODE_INPUT_REQUEST=false (decode_input_request=false)") from None
    return bytearray(raw)


def _encode_body(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, indent=2).encode("utf-8")


def _batch_failure(size: int, status: int, message: str, error: str | None = None,
                   body: bytes = b"error") -> dict:
    responses = [{"status": status, "phrase": message, "content_type": None, "headers": {},
                  "body": base64.b64encode(body).decode("ascii")} for _ in range(size)]
    return {"responses": responses, "batch_error": error}


def _worker_died(size: int, reason: str) -> dict:
    """The frontend's answer to every request of a batch whose worker died."""
    body = json.dumps({"code": 500, "type": "InternalServerException", "message": "Worker died."}, indent=2)
    return _batch_failure(size, 500, "Worker died.", reason, body.encode("utf-8"))


def _predict(entry: Callable, context: Any, requests: list[dict]) -> dict:
    """As MMS's ``Service.predict``: one status per request, or one for the whole batch."""
    data, headers = [], []
    for request in requests:
        with open(request["file"], "rb") as handle:
            raw = handle.read()
        try:
            data.append({request["name"]: _decode_value(raw, request["content_type"])})
        except WorkerDied as exc:
            log.error("%s", exc)
            return _worker_died(len(requests), str(exc))
        headers.append({request["name"]: {"content-type": request["content_type"]}})
    context.for_batch(headers)
    try:
        result = entry(data, context)
    except MemoryError:
        return _batch_failure(len(data), 507, "Out of resources", "MemoryError")
    except Exception as exc:  # MMS answers 503 for the batch; keep the reason for the user
        log.warning("handler raised", exc_info=True)
        return _batch_failure(len(data), 503, "Prediction failed", _one_line(exc))
    if not isinstance(result, list):
        return _batch_failure(len(data), 503, "Invalid model predict output", f"handle returned {type(result).__name__}")
    if len(result) != len(data):
        return _batch_failure(len(data), 503, "number of batch response mismatched",
                              f"handle returned {len(result)} responses for {len(data)} requests")
    try:
        bodies = [_encode_body(value) for value in result]
    except TypeError as exc:
        return _batch_failure(len(data), 503, "Unsupported model output data type.", _one_line(exc))
    responses = []
    for idx, body in enumerate(bodies):
        status, phrase = context.get_response_status(idx)
        responses.append({"status": status if status is not None else 200, "phrase": phrase or "",
                          "content_type": context.get_response_content_type(idx),
                          "headers": dict(context.get_response_headers(idx)),
                          "body": base64.b64encode(body).decode("ascii")})
    return {"responses": responses, "batch_error": None}


def main(job_path: str) -> None:
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model_dir = job["model_dir"]
    os.chdir(model_dir)
    sys.path.insert(0, model_dir)
    handler_dir = os.path.dirname(job["handler"].partition(":")[0])
    if handler_dir:
        sys.path.insert(0, os.path.join(model_dir, handler_dir))
    contexts = _load_context_module()
    context = contexts.Context(job["model_name"], model_dir, job["manifest"], job["batch_size"], job["gpu_id"],
                               dedicated_process=True)
    result: dict = {"warnings": []}
    started = time.perf_counter()
    try:
        entry = _import_entry_point(job, context, result["warnings"])
    except BaseException as exc:  # noqa: BLE001 - any load failure is reported, as MMS fails registration
        traceback.print_exc()
        result.update(ok=False, stage="load", error=_one_line(exc))
        _write(job["result"], result)
        return
    result["load_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    result.update(_predict(entry, context, job["requests"]))
    result["predict_seconds"] = time.perf_counter() - started
    result["metrics"] = [{"name": m.name, "value": m.value, "unit": m.unit, "request_index": m.request_index}
                         for m in getattr(context.metrics, "records", [])]
    result["ok"] = True
    _write(job["result"], result)


def _write(path: str, document: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)


if __name__ == "__main__":
    main(sys.argv[1])
