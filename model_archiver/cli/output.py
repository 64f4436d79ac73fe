"""How every subcommand reports: one line per error, exit codes, JSON mode.

Only this layer prints. Library errors carry their exit code; anything
unexpected is still one line (set MODEL_ARCHIVER_DEBUG=1 for the traceback).
"""
from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
from typing import Any, Callable, TypeVar

import click

from model_archiver.errors import ArchiverError, ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])
INTERRUPTED = 130
INTERNAL_ERROR = 70
# Signals that end a command like Ctrl-C: temporary files are removed, exit 128 + n.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(BaseException):
    """A stop signal arrived. A BaseException, so neither library ``except Exception`` nor click
    (which turns KeyboardInterrupt into "Aborted!" and exit 1) swallows it; ``finally`` blocks
    on the way up remove temporary outputs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        by = "" if self.signum == signal.SIGINT else f" by {signal.Signals(self.signum).name}"
        return f"interrupted{by}; nothing was written"


def install_signal_handlers() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` (once: cleanup is not interrupted again)."""
    raised = False

    def stop(signum: int, frame: object) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    for signum in STOP_SIGNALS:
        try:
            signal.signal(signum, stop)
        except (ValueError, OSError):  # not the main thread, or not allowed here
            return


def emit_json(document: Any) -> None:
    """Write one JSON object on stdout (the only thing stdout carries in --json mode)."""
    click.echo(json.dumps(document, indent=2, sort_keys=True))


def setup_logging(quiet: bool = False, verbose: int = 0) -> None:
    """Route library logs to stderr as ``model-archiver: level: message`` lines."""
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("model-archiver: %(levelname)s: %(message)s"))
    root = logging.getLogger("model_archiver")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    sdk = logging.getLogger("service_sdk")
    sdk.handlers[:] = [handler]
    sdk.setLevel(level)
    sdk.propagate = False


def _error_document(exc: BaseException, code: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"ok": False, "error": str(exc), "error_type": type(exc).__name__, "exit_code": code}
    if isinstance(exc, ValidationFailed):
        doc["problems"] = [p.to_dict() for p in exc.problems]
    return doc


def _report(exc: BaseException, code: int, as_json: bool) -> None:
    if as_json:
        emit_json(_error_document(exc, code))
        return
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            click.echo(f"{problem.severity}: {problem}", err=True)
        exc = RuntimeError(exc.summary)  # the problems are on the lines above
    click.echo(f"model-archiver: error: {exc}", err=True)


def handle_errors(func: F) -> F:
    """Turn library errors, Ctrl-C and surprises into one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            _report(exc, exc.exit_code, as_json)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _report(RuntimeError("interrupted; nothing was written"), INTERRUPTED, as_json)
            sys.exit(INTERRUPTED)
        except Interrupted as exc:
            _report(exc, exc.exit_code, as_json)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except RecursionError:
            if os.environ.get("MODEL_ARCHIVER_DEBUG"):
                raise
            _report(ArchiverError("input nested too deeply to process"), ArchiverError.exit_code, as_json)
            sys.exit(ArchiverError.exit_code)
        except Exception as exc:  # noqa: BLE001 - the contract is "never a traceback"
            if os.environ.get("MODEL_ARCHIVER_DEBUG"):
                raise
            _report(RuntimeError(f"internal error: {type(exc).__name__}: {exc}"), INTERNAL_ERROR, as_json)
            sys.exit(INTERNAL_ERROR)

    return wrapper  # type: ignore[return-value]
