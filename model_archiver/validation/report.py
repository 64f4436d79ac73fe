"""Problems found by validation, and how they are rendered.

A :class:`Problem` is one line a user can act on: which file, what is wrong,
what to do. Errors fail a build; warnings fail it only under ``--strict``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding. ``code`` is a stable machine id such as ``signature.input-not-in-symbol``."""

    severity: str
    file: str
    message: str
    code: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def error(file: str, message: str, code: str) -> Problem:
    return Problem(ERROR, file, message, code)


def warning(file: str, message: str, code: str) -> Problem:
    return Problem(WARNING, file, message, code)


def failing(problems: Iterable[Problem], strict: bool = False) -> list[Problem]:
    """The problems that fail a build: errors, plus warnings when ``strict``."""
    return [p for p in problems if p.is_error or strict]
