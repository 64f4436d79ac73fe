"""The bounds on reading an untrusted archive, in one place.

An archive is a few bytes that can claim or inflate to anything: a zip bomb,
a 2 GiB ``MANIFEST.json``, a million entries. Readers check these limits
*before* they start producing bytes (declared sizes, entry counts) and *while*
they produce them (actual bytes and the compressed bytes they came from), so
a hostile archive stops at the limit, never after. The defaults are generous
for real models (a 100 GB params file passes) and every CLI command that reads
archives can override them (``--max-entries`` ...; see docs/security.md).

The active limits live in a context variable: the CLI overrides them for the
duration of one command (:func:`using`), the library reads them where the
work happens, and callers that never set them get the defaults.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from dataclasses import dataclass
from typing import Iterator

from model_archiver.errors import IntegrityError

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Every bound on untrusted input; see docs/security.md for why each default."""

    max_entries: int = 250_000
    max_total_bytes: int = 1024 * GiB
    max_ratio: int = 200
    # Below this many bytes of output an entry may inflate at any ratio (small text files compress well).
    ratio_slack_bytes: int = 8 * MiB
    max_json_bytes: int = 64 * MiB
    max_json_depth: int = 64
    max_json_int_digits: int = 1000
    max_input_bytes: int = 256 * MiB
    import_timeout: float = 30.0


class LimitExceeded(IntegrityError):
    """An archive or input goes past one of the :class:`Limits` (exit 4)."""


_ACTIVE: contextvars.ContextVar[Limits] = contextvars.ContextVar("model_archiver_limits", default=Limits())


def active() -> Limits:
    """The limits in force for the current command."""
    return _ACTIVE.get()


@contextlib.contextmanager
def using(**overrides: object) -> Iterator[Limits]:
    """Temporarily override some limits (``None`` values keep the current one)."""
    chosen = dataclasses.replace(active(), **{k: v for k, v in overrides.items() if v is not None})
    token = _ACTIVE.set(chosen)
    try:
        yield chosen
    finally:
        _ACTIVE.reset(token)


def check_ratio(produced: int, consumed: int, what: str) -> None:
    """Raise when ``produced`` bytes came from too few ``consumed`` compressed bytes."""
    limits = active()
    if produced > limits.ratio_slack_bytes and produced > limits.max_ratio * max(consumed, 1):
        raise LimitExceeded(f"{what} inflates more than {limits.max_ratio}:1 (a decompression bomb?); "
                            "raise --max-ratio if it is genuine")


def check_total(total: int, what: str) -> None:
    """Raise when the archive's uncompressed bytes so far pass the total limit."""
    limit = active().max_total_bytes
    if total > limit:
        raise LimitExceeded(f"{what} holds more than {limit} uncompressed bytes; raise --max-total-bytes "
                            "if it is genuine")


def check_entries(count: int, what: str) -> None:
    """Raise when an archive lists more entries than allowed."""
    limit = active().max_entries
    if count > limit:
        raise LimitExceeded(f"{what} has more than {limit} entries; raise --max-entries if it is genuine")
