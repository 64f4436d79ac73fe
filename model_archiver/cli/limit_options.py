"""CLI flags that override :mod:`model_archiver.safety.limits` for one command.

``@limit_options`` adds the archive-reading limits (inspect, verify, run,
validate, build); ``@import_timeout_option`` adds ``--import-timeout`` where
``--check-import`` exists. Each flag's default is the library default, shown
in ``--help``; docs/security.md explains them.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from model_archiver.safety import limits

F = TypeVar("F", bound=Callable[..., Any])
_DEFAULTS = limits.Limits()

_READING = (
    ("max_entries", "--max-entries", click.IntRange(min=1), "Most entries an archive may list."),
    ("max_total_bytes", "--max-total-bytes", click.IntRange(min=0), "Most uncompressed bytes in one archive."),
    ("max_ratio", "--max-ratio", click.IntRange(min=1), "Highest compression ratio of an entry or stream "
                                                        "(past the first 8 MiB)."),
    ("max_json_bytes", "--max-json-bytes", click.IntRange(min=1), "Largest JSON member or whole-read file."),
    ("max_json_depth", "--max-json-depth", click.IntRange(min=1), "Deepest nesting of a JSON member."),
)


def _apply(names: tuple[str, ...], func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        overrides = {name: kwargs.pop(name) for name in names}
        with limits.using(**overrides):  # reset afterwards: in-process callers (tests) never inherit them
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def limit_options(func: F) -> F:
    """Add the archive-reading limit flags; place it right above ``@handle_errors``."""
    wrapped = _apply(tuple(name for name, *_ in _READING), func)
    for name, flag, kind, text in reversed(_READING):
        wrapped = click.option(flag, name, type=kind, default=getattr(_DEFAULTS, name), show_default=True,
                               help=text)(wrapped)
    return wrapped


def import_timeout_option(func: F) -> F:
    """Add ``--import-timeout`` (seconds ``--check-import`` waits before killing the import)."""
    wrapped = _apply(("import_timeout",), func)
    return click.option("--import-timeout", "import_timeout", type=click.FloatRange(min=0.1),
                        default=_DEFAULTS.import_timeout, show_default=True,
                        help="Seconds --check-import waits; then the import and all it started are killed.")(wrapped)


def max_input_option(func: F) -> F:
    """Add ``--max-input-bytes`` (largest ``run --input`` file)."""
    wrapped = _apply(("max_input_bytes",), func)
    return click.option("--max-input-bytes", "max_input_bytes", type=click.IntRange(min=0),
                        default=_DEFAULTS.max_input_bytes, show_default=True,
                        help="Largest input file run reads (regular files only).")(wrapped)
