"""JSON parsing with limits, for documents that come from untrusted hands.

``json.loads`` has no limits of its own: a few kilobytes of ``[[[[...`` end in
``RecursionError``, a 5,000-digit integer in ``ValueError`` (Python's
int-to-str guard), and a body's size is only bounded by memory. Archive members
(manifest, RECORD, signature, symbol) and request bodies all go through
:func:`loads` so that every such document fails the same way, with
:class:`JSONLimitError` (a ``ValueError``), before the parser recurses or
allocates.

Standard library only: this module ships inside archives (``--vendor-sdk``).
"""
from __future__ import annotations

import json
import re
from typing import Any, Union

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_INT_DIGITS = 1000

# One token at a time: a string literal (escapes included, so brackets and
# digits inside strings never count), one bracket, or a run of digits.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|\d+', re.DOTALL)


class JSONLimitError(ValueError):
    """The document is not JSON, or is JSON beyond a limit (size, depth, integer length)."""


def loads(
    data: Union[str, bytes, bytearray],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
    what: str = "JSON document",
) -> Any:
    """Parse ``data`` as JSON after checking it against the limits.

    ``what`` names the document in the error message ("MAR-INF/MANIFEST.json",
    "request body"), so callers can pass the message on unchanged.
    """
    if len(data) > max_bytes:
        raise JSONLimitError(f"{what} is {len(data)} bytes, over the {max_bytes}-byte limit")
    text = _as_text(data, what)
    _check_structure(text, max_depth, max_int_digits, what)
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check runs first
        raise JSONLimitError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise JSONLimitError(f"{what} is not valid JSON: {_short(exc)}") from None


def _as_text(data: Union[str, bytes, bytearray], what: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JSONLimitError(f"{what} is not UTF-8 (byte {exc.start})") from None


def _check_structure(text: str, max_depth: int, max_digits: int, what: str) -> None:
    """One linear pass over the tokens: nesting depth and digit-run length."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if first in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONLimitError(f"{what} is nested deeper than {max_depth} levels")
        elif first in "]}":
            depth -= 1
        elif first != '"' and len(token) > max_digits:
            raise JSONLimitError(f"{what} has a number longer than {max_digits} digits")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
