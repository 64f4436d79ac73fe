"""One small error hierarchy for the whole library.

The library raises these and never exits; the CLI maps each class to an exit
code (``exit_code``) and prints ``str(error)`` as a single line. Keeping the
code on the class means a new error kind cannot be added without choosing how
a CI pipeline will see it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover - typing only
    from model_archiver.validation.report import Problem


class ArchiverError(Exception):
    """Base class: anything the user can fix, reported as one line."""

    exit_code = 1


class UsageError(ArchiverError):
    """Bad arguments or inputs that are wrong before any work starts."""

    exit_code = 2


class ValidationFailed(ArchiverError):
    """The model directory or archive has problems; ``problems`` lists them all."""

    exit_code = 3

    def __init__(self, problems: Sequence["Problem"], message: str | None = None):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error]
        super().__init__(message or f"validation failed with {len(errors)} error(s)")


class IntegrityError(ArchiverError):
    """An archive's contents do not match its recorded digests."""

    exit_code = 4


class ConversionError(ArchiverError):
    """A model could not be converted (e.g. ONNX import or numeric check failed)."""

    exit_code = 5


class OutputExistsError(UsageError):
    """The output already exists and overwriting was not asked for."""


class ModelLoadError(ArchiverError):
    """A handler or model failed to load or run in the local runner."""

    exit_code = 6
