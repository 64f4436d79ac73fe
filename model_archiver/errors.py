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
    """The model directory or archive has problems; ``problems`` lists them all.

    ``str()`` names the first few problems, so a caller that only logs the
    exception still tells the user what to fix; ``summary`` is the verdict
    alone, for the CLI, which prints every problem on its own line first.
    """

    exit_code = 3
    SHOWN = 3

    def __init__(self, problems: Sequence["Problem"], message: str | None = None):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error]
        warnings = [p for p in self.problems if not p.is_error]
        if message:
            self.summary = message
        elif errors:
            self.summary = f"validation failed with {len(errors)} error(s)"
        else:
            self.summary = f"validation failed (strict) with {len(warnings)} warning(s)"
        super().__init__(self.summary + _first(errors or warnings, self.SHOWN))


def _first(problems: Sequence["Problem"], shown: int) -> str:
    """``: FILE: MESSAGE; FILE: MESSAGE (and N more)``, or nothing for no problems."""
    if not problems:
        return ""
    listed = "; ".join(str(p) for p in problems[:shown])
    more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
    return f": {listed}{more}"


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


class ServerError(ArchiverError):
    """The real server could not start, or could not register an archive (reason and log tail)."""

    exit_code = 7


class SmokeTestFailed(ServerError):
    """The served archive answered wrongly: a bad status, an unexpected body, or not what ``run`` says."""

    exit_code = 8
