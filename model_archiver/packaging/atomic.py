"""Write an output beside its final place, then move it there in one step.

Whatever happens before the move - a validation error, a full disk, Ctrl-C -
the temporary output is removed and an existing archive is untouched. Without
``force`` the final move is a hard link, which fails if the name appeared in
the meantime, so a concurrent build is never overwritten either.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from model_archiver.errors import OutputExistsError, UsageError


def check_free(final: Path, force: bool, is_dir: bool) -> None:
    """Fail early, before any work, if ``final`` exists and may not be replaced."""
    if not (final.exists() or final.is_symlink()):
        return
    if not force:
        raise OutputExistsError(f"{final} already exists; use -f/--force to overwrite it")
    if final.is_dir() != is_dir:
        kind = "directory" if final.is_dir() else "file"
        raise UsageError(f"{final} exists and is a {kind}; remove it first")


def _umask_mode(mode: int) -> int:
    current = os.umask(0)
    os.umask(current)
    return mode & ~current


@contextlib.contextmanager
def atomic_file(final: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary path in ``final``'s folder; move it to ``final`` on success."""
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        temp.chmod(_umask_mode(0o666))
        _place_file(temp, final, force)
    finally:
        temp.unlink(missing_ok=True)


def _place_file(temp: Path, final: Path, force: bool) -> None:
    if force:
        os.replace(temp, final)
        return
    try:
        os.link(temp, final)
    except FileExistsError:
        raise OutputExistsError(f"{final} already exists; use -f/--force to overwrite it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
            raise
        if final.exists():
            raise OutputExistsError(f"{final} already exists; use -f/--force to overwrite it") from None
        os.replace(temp, final)


@contextlib.contextmanager
def atomic_directory(final: Path, force: bool) -> Iterator[Path]:
    """Like :func:`atomic_file` for an unarchived model directory."""
    temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield temp
        temp.chmod(_umask_mode(0o777))
        _place_directory(temp, final, force)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _place_directory(temp: Path, final: Path, force: bool) -> None:
    if not final.exists():
        os.rename(temp, final)
        return
    if not force:
        raise OutputExistsError(f"{final} already exists; use -f/--force to overwrite it")
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
    os.rename(final, old / final.name)
    os.rename(temp, final)
    shutil.rmtree(old, ignore_errors=True)
