"""Parse a JSON member of an untrusted archive (manifest, RECORD, signature, symbol) within limits.

One place applies the size, depth and integer-length limits of
:mod:`model_archiver.safety.limits` through the SDK's depth-bounded loader, so
no archive member can make the parser recurse, allocate without bound or hit
Python's int-to-str guard.
"""
from __future__ import annotations

from typing import Any, BinaryIO

from service_sdk.utils.bounded_json import JSONLimitError, loads

from model_archiver.safety.limits import active

__all__ = ["JSONLimitError", "parse", "read_member"]


def parse(raw: bytes | str, what: str) -> Any:
    """The document in ``raw``; :class:`JSONLimitError` (a ``ValueError``) names ``what`` on failure."""
    limits = active()
    return loads(raw, max_bytes=limits.max_json_bytes, max_depth=limits.max_json_depth,
                 max_int_digits=limits.max_json_int_digits, what=what)


def read_member(stream: BinaryIO, what: str) -> bytes:
    """Read a JSON member, refusing it as soon as it passes the size limit (never all of a bomb)."""
    limit = active().max_json_bytes
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise JSONLimitError(f"{what} is over the {limit}-byte limit for JSON files; raise --max-json-bytes "
                             "if it is genuine")
    return data
