"""Write an output beside its final place, then move it there in one step.

Whatever happens before the move - a validation error, a full disk, Ctrl-C -
the temporary output is removed and an existing archive is untouched. Without
``force`` the final move is a hard link, which fails if the name appeared in
the meantime, so a concurrent build is never overwritten either.

Temporary names carry the builder's process id (``.NAME.mar.<pid>.<random>.tmp``),
so the leftovers of a build killed outright (SIGKILL, power loss) are
recognisable: the next build into the same folder removes those whose process
is gone, and never touches a live build's.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Iterator

from model_archiver.errors import OutputExistsError, UsageError

_LEFTOVER_SUFFIXES = (".tmp", ".old")


def _prefix(final: Path) -> str:
    return f".{final.name}.{os.getpid()}."


def sweep_leftovers(final: Path) -> list[Path]:
    """Remove temporary outputs for ``final`` left by builds whose process no longer exists."""
    removed = []
    start = f".{final.name}."
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(start) and entry.name.endswith(_LEFTOVER_SUFFIXES)):
            continue
        pid = entry.name[len(start):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


_WORK_PREFIX = "model-archiver-"


def work_dir_prefix() -> str:
    """Prefix of a build's work folder in TMPDIR; carries the pid so a killed build's folder is recognisable."""
    return f"{_WORK_PREFIX}{os.getpid()}-"


def sweep_work_dirs() -> list[Path]:
    """Remove this user's build work folders in TMPDIR whose process no longer exists (SIGKILL leftovers)."""
    removed = []
    root = Path(tempfile.gettempdir())
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(_WORK_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        pid = entry.name[len(_WORK_PREFIX):].split("-", 1)[0]
        try:
            mine = entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


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


_STOP_SIGNALS = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Delay stop signals over a few steps that must not be split (create and remember a temp; swap two
    names). A signal that arrives meanwhile is delivered right after, where cleanup is in place."""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def atomic_file(final: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary path in ``final``'s folder; move it to ``final`` on success."""
    sweep_leftovers(final)
    temp: Path | None = None
    try:
        with _signals_held():
            fd, name = tempfile.mkstemp(prefix=_prefix(final), suffix=".tmp", dir=final.parent)
            os.close(fd)
            temp = Path(name)
        yield temp
        temp.chmod(_umask_mode(0o666))
        _place_file(temp, final, force)
    finally:
        if temp is not None:
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
    sweep_leftovers(final)
    temp: Path | None = None
    try:
        with _signals_held():
            temp = Path(tempfile.mkdtemp(prefix=_prefix(final), suffix=".tmp", dir=final.parent))
        yield temp
        temp.chmod(_umask_mode(0o777))
        _place_directory(temp, final, force)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _place_directory(temp: Path, final: Path, force: bool) -> None:
    if not final.exists():
        os.rename(temp, final)
        return
    if not force:
        raise OutputExistsError(f"{final} already exists; use -f/--force to overwrite it")
    with _signals_held():  # never a moment without `final`, whatever signal arrives
        old = Path(tempfile.mkdtemp(prefix=_prefix(final), suffix=".old", dir=final.parent))
        os.rename(final, old / final.name)
        os.rename(temp, final)
    shutil.rmtree(old, ignore_errors=True)
