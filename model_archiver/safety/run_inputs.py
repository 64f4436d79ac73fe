"""What ``run`` accepts before it extracts anything or starts a model process.

The archive must pass what ``inspect`` checks of its structure (safe entry
names, limits, a manifest that matches the schema - so a ``modelName`` of
``../../etc/passwd`` never reaches the runner), and every ``--input`` must be
a regular file within ``--max-input-bytes``: ``/dev/zero`` or a FIFO would
otherwise be read forever.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

from model_archiver.errors import UsageError
from model_archiver.safety import limits


def check_archive(archive: Path) -> None:
    """Raise the error ``inspect`` would (exit 2 or 4) for an archive ``run`` must not load."""
    from model_archiver.reading.reader import open_archive

    with open_archive(archive) as reader:
        reader.check_safe()
        reader.manifest  # noqa: B018 - parsed and schema-checked, or UsageError


def check_inputs(paths: Iterable[Path]) -> None:
    """Every input is an existing regular file no larger than the input limit."""
    limit = limits.active().max_input_bytes
    for path in paths:
        check_regular_file(path, "input", limit, hint="raise --max-input-bytes if it is genuine")


def check_regular_file(path: Path, what: str, limit: int, *, hint: str = "") -> None:
    """``path`` is an existing regular file of at most ``limit`` bytes, or a :class:`UsageError`
    naming it as ``what`` ("input", "config file"): never read a device or FIFO forever."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{what} {path} is not a regular file (devices, FIFOs and folders are refused)")
    if info.st_size > limit:
        raise UsageError(f"{what} {path} is {info.st_size} bytes, over the {limit}-byte limit"
                         + (f"; {hint}" if hint else ""))
