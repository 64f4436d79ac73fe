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
from functools import lru_cache
from typing import Any, Union

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_INT_DIGITS = 1000

# The structure check works on bytes, with bytes.translate (C speed; see
# _check_structure). UTF-8 multi-byte sequences never contain ASCII bytes, so
# digits, brackets and quotes are found exactly.
_DIGIT_MASK = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_STRING_LITERAL = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


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
    raw = text.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    _check_structure(text, raw, max_depth, max_int_digits, what)
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


def _check_structure(text: str, raw: bytes, max_depth: int, max_digits: int, what: str) -> None:
    """Digit-run length and nesting depth, cheap next to the parse itself.

    Digits: every byte becomes "digit" or "other" and one substring search
    finds a run longer than ``max_digits``; only then are string literals
    set aside to see whether the run is a number. Depth: escape pairs are
    dropped, then every byte but brackets and quotes, then whole string
    literals, and what is left (a few hundred brackets for a tensor) is
    walked, stopping at the first level too deep. JSON is parsed left to right
    and stops at its first error, so wherever this view and the parser's could
    differ the parser has already failed.
    """
    if len(raw) > max_digits and b"1" * (max_digits + 1) in raw.translate(_DIGIT_MASK):
        if _long_digit_run(max_digits).search(_STRING_LITERAL.sub('""', text)):
            raise JSONLimitError(f"{what} has a number longer than {max_digits} digits")
    brackets = (_ESCAPE.sub(b"", raw) if b"\\" in raw else raw).translate(None, _NOT_STRUCTURE)
    if b'"' in brackets:
        brackets = _STRING.sub(b"", brackets)
    if len(brackets) <= max_depth:
        return
    depth = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > max_depth:
                raise JSONLimitError(f"{what} is nested deeper than {max_depth} levels")
        elif byte in b"]}":
            depth -= 1
            if depth < 0:  # unbalanced: the parser fails here, before any deeper level
                return


@lru_cache(maxsize=8)
def _long_digit_run(max_digits: int) -> "re.Pattern[str]":
    """Digits that start a run (the look-behind keeps the scan linear), more than ``max_digits`` of them."""
    return re.compile(rf"(?<![0-9])[0-9]{{{max_digits + 1}}}")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
