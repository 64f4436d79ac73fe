"""What one request may cost the worker, and the checks that hold it to that.

A request comes from the internet; the worker serves a whole batch. Every
check here runs before the expensive step it guards (a parse, an allocation,
a forward pass) and fails with :class:`RequestError` (400), so a bad request
fails its own slot and nothing else:

* JSON bodies: size, nesting depth and digits per number
  (:func:`parse_json` through the shared bounded loader);
* ``.npy`` bodies: the header's shape and dtype against the bytes actually
  sent, before numpy allocates the array (:func:`check_npy_header`);
* tensors: NaN and infinities are refused unless the service sets
  ``allow_non_finite = True`` (:func:`check_finite`).

Imports only the standard library (numpy lazily), as it ships inside archives.
"""
from __future__ import annotations

import ast
import math
import struct
from dataclasses import dataclass
from typing import Any, Union

from service_sdk.errors import RequestError
from service_sdk.utils import bounded_json

NPY_MAGIC = b"\x93NUMPY"
# numpy >= 1.24 refuses longer .npy headers by default too; a real one is ~120 bytes.
MAX_NPY_HEADER_BYTES = 10_000
# Tensor dtype kinds a request may carry: bool, signed, unsigned, float, complex.
TENSOR_KINDS = "biufc"
MAX_NPY_DIMS = 32  # numpy's own limit


@dataclass(frozen=True)
class RequestLimits:
    """Bounds on a request body; a service overrides them with its ``request_limits`` attribute.

    ``max_json_bytes``
        a JSON body's size (MMS itself caps a request at ``max_request_size``,
        6.5 MB by default, so this one only binds where that was raised).
    ``max_json_depth``
        nesting of lists and objects; a rank-8 tensor in an object is depth 9.
    ``max_json_digits``
        digits in one run of a number: float64 needs at most 17 significant
        digits, while a 5,000-digit integer costs quadratic time to convert.
    """

    max_json_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 32
    max_json_digits: int = 100


DEFAULT_LIMITS = RequestLimits()


def parse_json(data: Union[str, bytes, bytearray], limits: RequestLimits = DEFAULT_LIMITS,
               what: str = "request body") -> Any:
    """``data`` parsed as JSON within ``limits``; :class:`RequestError` otherwise."""
    try:
        return bounded_json.loads(data, max_bytes=limits.max_json_bytes, max_depth=limits.max_json_depth,
                                  max_int_digits=limits.max_json_digits, what=what)
    except bounded_json.JSONLimitError as exc:
        raise RequestError(str(exc)) from None


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header declares, checked against the body that carries it."""

    dtype: Any
    fortran_order: bool
    shape: tuple[int, ...]
    data_offset: int

    @property
    def count(self) -> int:
        return math.prod(self.shape)


def check_npy_header(raw: Union[bytes, bytearray]) -> NpyHeader:
    """Parse and check the header of ``.npy`` bytes without allocating the array.

    ``np.load`` trusts the header: for a stream it allocates the declared
    array first and reads into it after, so 193 bytes claiming 2^40 values
    exhaust memory (the worker answers 507 for the whole batch). Here the
    declared size must fit in the bytes that follow the header.
    """
    import numpy as np

    if bytes(raw[:6]) != NPY_MAGIC or len(raw) < 10:
        raise RequestError("request body is not a .npy array (no NUMPY magic)")
    major = raw[6]
    if major not in (1, 2, 3):
        raise RequestError(f".npy format version {major}.{raw[7]} is not supported")
    size_format, start = ("<H", 10) if major == 1 else ("<I", 12)
    if len(raw) < start:
        raise RequestError(".npy header is cut short")
    (header_length,) = struct.unpack(size_format, bytes(raw[8:start]))
    if header_length > MAX_NPY_HEADER_BYTES or start + header_length > len(raw):
        raise RequestError(f".npy header declares {header_length} bytes: over {MAX_NPY_HEADER_BYTES} "
                           "or past the end of the body")
    header = _header_dict(bytes(raw[start:start + header_length]), major)
    dtype = _header_dtype(header.get("descr"), np)
    shape, fortran = header.get("shape"), header.get("fortran_order")
    if not isinstance(shape, tuple) or len(shape) > MAX_NPY_DIMS or \
            not all(type(n) is int and n >= 0 for n in shape):
        raise RequestError(f".npy shape {str(shape)[:80]} is not a tuple of at most {MAX_NPY_DIMS} "
                           "non-negative integers")
    if not isinstance(fortran, bool):
        raise RequestError(".npy header lacks a boolean fortran_order")
    needed = math.prod(shape) * dtype.itemsize
    available = len(raw) - start - header_length
    if needed > available:
        raise RequestError(f".npy header declares shape {list(shape)} of {dtype} ({needed} bytes) "
                           f"but the body holds {available} bytes of data")
    return NpyHeader(dtype, fortran, shape, start + header_length)


def _header_dict(text: bytes, major: int) -> dict:
    try:
        literal = text.decode("latin1" if major < 3 else "utf-8")
        header = ast.literal_eval(literal)
    except (UnicodeDecodeError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise RequestError(".npy header is not a Python literal dict") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise RequestError(".npy header must hold exactly descr, fortran_order and shape")
    return header


def _header_dtype(descr: Any, np: Any) -> Any:
    """A plain numeric dtype; records, strings, objects and zero-sized types are not tensors."""
    if not isinstance(descr, str):
        raise RequestError(f".npy dtype {descr!r} is not a plain numeric type")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError, SyntaxError):  # numpy parses "a,b" descriptions as Python
        raise RequestError(f".npy dtype {descr!r} is not a numpy type") from None
    if dtype.kind not in TENSOR_KINDS or dtype.itemsize == 0 or dtype.fields is not None or dtype.subdtype:
        raise RequestError(f".npy dtype {dtype} is not a numeric tensor type")
    return dtype


def check_finite(item: Any, allow_non_finite: bool = False) -> None:
    """Refuse NaN and infinities in the numpy arrays of one decoded request.

    ``item`` is what a service's ``preprocess_request`` returned: an array,
    or a list/tuple of arrays (one per input); anything else is not checked.
    A NaN passes through a network and comes out as normal-looking scores,
    so it is refused (400) unless the service opted in.
    """
    if allow_non_finite:
        return
    import numpy as np

    arrays = item if isinstance(item, (list, tuple)) else [item]
    for position, array in enumerate(arrays):
        if not isinstance(array, np.ndarray) or array.dtype.kind not in ("f", "c"):
            continue
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(finite.size - np.count_nonzero(finite))
            raise RequestError(f"input {position} holds {bad} NaN or infinite value(s) of {finite.size}; "
                               "this model accepts finite numbers only")
