"""Requests that carry tensors: JSON (nested lists, or an object keyed by input
name) or ``.npy`` bytes, shared by every tensor-in/tensor-out service.

Anything unusable raises :class:`RequestError`, so it fails only its own
request slot with a 4xx. Bodies are checked against
:mod:`service_sdk.request_limits` before they are parsed or allocated.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from service_sdk.errors import RequestError
from service_sdk.request_bodies import request_body, request_json
from service_sdk.request_limits import DEFAULT_LIMITS, NPY_MAGIC, RequestLimits, check_npy_header
from service_sdk.signature import TensorSpec


def request_values(request: dict, specs: Sequence[TensorSpec], limits: RequestLimits = DEFAULT_LIMITS) -> list[Any]:
    """The raw value for each input in ``specs``, from one request."""
    body = request_body(request)
    if isinstance(body, (bytes, bytearray)) and bytes(body[:6]) == NPY_MAGIC:
        values: Any = load_npy(body)
    else:
        values = request_json(request, limits)
    if isinstance(values, dict):
        absent = [spec.name for spec in specs if spec.name not in values]
        if absent:
            raise RequestError(f"request lacks input(s) {absent}")
        return [values[spec.name] for spec in specs]
    if len(specs) != 1:
        raise RequestError(f"send a JSON object keyed by input name ({', '.join(s.name for s in specs)})")
    return [values]


def load_npy(raw: bytes | bytearray) -> np.ndarray:
    """The array in ``.npy`` bytes, allocated only after its header was checked against the body."""
    header = check_npy_header(raw)
    try:
        flat = np.frombuffer(raw, header.dtype, header.count, header.data_offset) if header.count else \
            np.empty(0, header.dtype)
        array = flat.reshape(header.shape, order="F" if header.fortran_order else "C")
    except ValueError as exc:  # e.g. an empty array with absurd dimensions
        raise RequestError(f"request body is not a usable .npy array: {exc}") from None
    return array if array.flags.writeable else array.copy()


def as_item(value: Any, spec: TensorSpec, dtype: Any = np.float32) -> np.ndarray:
    """``value`` as one item of ``spec``: the batch axis removed (a batch of 1 is
    accepted), and 0 in the remaining dimensions meaning any size."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        raise RequestError(f"input {spec.name!r} is not a numeric array") from None
    expected = spec.item_shape
    if array.ndim == len(expected) + 1 and array.shape[spec.batch_axis] == 1:
        array = np.squeeze(array, axis=spec.batch_axis)
    if array.ndim != len(expected) or any(e and a != e for a, e in zip(array.shape, expected)):
        shown = ["?" if e == 0 else e for e in expected]
        raise RequestError(f"input {spec.name!r} has shape {list(array.shape)}, expected {shown}")
    return array
