"""Request bodies: where a request's payload is, and who decodes it.

MMS 1.1's worker decodes ``application/json`` bodies (``json.loads``) and
``text/*`` bodies (UTF-8) itself, before the handler runs, unless
``MMS_DECODE_INPUT_REQUEST=false`` is in its environment (it reads the
variable for every request). A malformed body raises there and kills the
worker: every request of the batch gets 500 "Worker died". So a service takes
that decoding over: in a process that serves only its model (an MMS worker,
the local runner's child) it sets the variable to ``false`` when it starts
(:func:`claim_body_decoding`), and decodes the same content types itself
(:func:`decode_batch`) within its :class:`~service_sdk.request_limits.RequestLimits`.
A body that does not decode fails its own slot with 400; handlers still see
what MMS gives them for a good body: JSON parsed, text as ``str``, the rest
as bytes. Already decoded bodies (a host that decodes anyway) pass unchanged.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Union

from service_sdk.errors import RequestError
from service_sdk.request_limits import DEFAULT_LIMITS, RequestLimits, parse_json

log = logging.getLogger(__name__)

DECODE_SWITCH = "MMS_DECODE_INPUT_REQUEST"
BODY_KEYS = ("body", "data")
JSON_CONTENT_TYPE = "application/json"
SEND_HINT = ("send the input as the raw request body with its Content-Type, e.g. "
             "curl -H 'Content-Type: application/json' --data-binary @input.json URL "
             "(curl -d posts a form, which reaches the model without a body)")


class UndecodableBody(bytes):
    """A raw body that did not decode; :func:`request_body` raises its ``error``.

    Still the raw bytes, so a handler that reads ``request["body"]`` directly
    keeps working as it would with undecoded bodies.
    """

    error: RequestError

    @classmethod
    def wrap(cls, raw: Union[bytes, bytearray], error: RequestError) -> "UndecodableBody":
        body = cls(raw)
        body.error = error
        return body


def in_mms_worker() -> bool:
    """Whether this process is an MMS 1.x worker (started as ``python .../mms/model_service_worker.py``)."""
    main = str(getattr(sys.modules.get("__main__"), "__file__", None) or "").replace("\\", "/")
    return main.endswith("/mms/model_service_worker.py")


def serves_only_this_model(context: Any) -> bool:
    """Whether this process belongs to the model: an MMS worker or the local runner's child.

    Only there may the SDK change the process environment; a service loaded
    in a test, a notebook or through MMS's loader in-process leaves it alone.
    """
    return bool(getattr(context, "dedicated_process", False)) or in_mms_worker()


def claim_body_decoding(context: Any) -> bool:
    """Switch the worker's own body decoding off (see the module docstring); True if claimed."""
    if not serves_only_this_model(context):
        return False
    if os.environ.get(DECODE_SWITCH) != "false":
        os.environ[DECODE_SWITCH] = "false"
        log.info("service_sdk decodes JSON and text bodies itself (%s=false)", DECODE_SWITCH)
    return True


def decode_batch(batch: list, context: Any, limits: RequestLimits = DEFAULT_LIMITS) -> list:
    """``batch`` with raw JSON and text bodies decoded as MMS would; bad ones wrapped in :class:`UndecodableBody`.

    New dicts: the list MMS passed in is left as it was.
    """
    decoded = []
    for idx, request in enumerate(batch):
        if isinstance(request, dict):
            request = {name: decode_value(value, content_type(context, idx, name), limits)
                       for name, value in request.items()}
        decoded.append(request)
    return decoded


def decode_value(value: Any, content_type: str, limits: RequestLimits = DEFAULT_LIMITS) -> Any:
    """One parameter decoded by MMS's rule: exactly ``application/json`` parsed, ``text*`` as UTF-8."""
    if not isinstance(value, (bytes, bytearray)) or isinstance(value, UndecodableBody) or not value:
        return value
    if content_type == JSON_CONTENT_TYPE:
        try:
            return parse_json(value, limits)
        except RequestError as exc:
            return UndecodableBody.wrap(value, exc)
    if content_type.startswith("text"):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            return UndecodableBody.wrap(value, RequestError(
                f"the {content_type} body is not UTF-8 (byte {exc.start}); send binary data as "
                "application/octet-stream"))
    return value


def content_type(context: Any, idx: int, name: str) -> str:
    """The content type MMS recorded for parameter ``name`` of request ``idx`` ('' when unknown)."""
    try:
        headers = context.get_request_header(idx, name)
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    value = headers.get("content-type") if isinstance(headers, dict) else None
    return value if isinstance(value, str) else ""


def request_body(request: dict) -> Any:
    """The payload of one request: ``body`` or ``data``, else its only parameter.

    MMS delivers a raw POST body as ``body`` (or ``data``); multipart fields
    come under their own names; a form post (``curl -d``) arrives as its
    fields or as nothing at all. JSON bodies come parsed and text as ``str``
    (by MMS or by :func:`decode_batch`); everything else as bytes.
    """
    if not isinstance(request, dict):
        raise RequestError("malformed request: expected a mapping of parameters")
    key = next((key for key in BODY_KEYS if key in request), None)
    if key is None and len(request) != 1:
        fields = ", ".join(sorted(map(str, request))) or "none"
        raise RequestError(f"no request body (form fields: {fields}): {SEND_HINT}")
    value = request[key] if key is not None else next(iter(request.values()))
    if isinstance(value, UndecodableBody):
        raise value.error
    if value is None or (isinstance(value, (bytes, bytearray, str)) and len(value) == 0):
        raise RequestError(f"the request body is empty: {SEND_HINT}")
    return value


def request_json(request: dict, limits: RequestLimits = DEFAULT_LIMITS) -> Any:
    """The request body as a JSON value (parsed here within ``limits`` unless already parsed)."""
    value = request_body(request)
    if isinstance(value, (bytes, bytearray, str)):
        return parse_json(value, limits)
    return value
