"""Decide which files of a model directory go into the archive.

The rules are MMS's (hidden entries, ``__MACOSX``, ``__pycache__``, ``*.pyc``,
``.DS_Store``, a stray root ``MANIFEST.json``) plus the user's globs, with two
stricter ones: ``MAR-INF/`` is reserved for the archiver, and a symlink must
stay inside the model directory - an escaping link is an error, never a
silent skip, because the archive would otherwise differ from what the user
sees in the folder. Every name must pass the one entry-name rule
(:mod:`model_archiver.safety.entry_names`), so a build never writes an
archive that ``run`` would refuse to extract.
"""
from __future__ import annotations

import fnmatch
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from model_archiver.errors import UsageError
from model_archiver.layout import MANIFEST_NAME, MAR_INF
from model_archiver.safety.entry_names import name_problem, printable

log = logging.getLogger(__name__)

_SKIPPED_DIRS = {"__MACOSX", "__pycache__"}
_SKIPPED_FILES = {".DS_Store"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class SourceFile:
    """One file to archive: its name inside the archive and where its bytes are."""

    arcname: str
    path: Path
    size: int
    executable: bool = False


def collect_files(
    model_dir: Path, *, excludes: Sequence[str] = (), skip: Iterable[Path] = ()
) -> list[SourceFile]:
    """Return the files to archive, sorted by archive name.

    ``skip`` names paths that must never be archived even when they lie inside
    the model directory - the output archive and its temporary file.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise UsageError(f"model path {str(model_dir)!r} is not a directory")
    real_root = root.resolve()
    walker = _Walker(real_root, frozenset(Path(p).resolve() for p in skip), tuple(excludes))
    files = list(walker.walk(real_root, "", ()))
    return sorted(files, key=lambda f: f.arcname)


def is_excluded(arcname: str, excludes: Sequence[str]) -> bool:
    """True if a user glob matches the archive name or the bare file name."""
    base = arcname.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(arcname, g) or fnmatch.fnmatchcase(base, g) for g in excludes)


@dataclass(frozen=True)
class _Walker:
    """The fixed inputs of one collection, so the recursive walk only passes what changes."""

    real_root: Path
    skipped: frozenset[Path]
    excludes: Sequence[str]

    def walk(self, directory: Path, prefix: str, ancestors: tuple[Path, ...]) -> Iterator[SourceFile]:
        ancestors = (*ancestors, directory.resolve())
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                arcname = f"{prefix}{entry.name}"
                if _builtin_skip(entry.name, prefix, _is_dir(entry)) or is_excluded(arcname, self.excludes):
                    log.debug("excluded %s", arcname)
                    continue
                if arcname == MAR_INF:
                    raise UsageError(f"{arcname}/ in the model path is reserved for the archive's manifest; rename it")
                problem = name_problem(arcname)
                if problem:  # the same rule `run` applies on extraction: never build what it would refuse
                    raise UsageError(f"{printable(arcname)!r}: {problem}; rename it or exclude it with --exclude")
                yield from self.entry_files(Path(entry.path), arcname, ancestors)

    def entry_files(self, path: Path, arcname: str, ancestors: tuple[Path, ...]) -> Iterator[SourceFile]:
        target = _resolve_inside(self.real_root, path, arcname)
        if target in self.skipped:
            log.debug("skipped output %s", arcname)
            return
        info = target.stat()
        if stat.S_ISDIR(info.st_mode):
            if target in ancestors:
                raise UsageError(f"{arcname}: symlink loop back to {target}")
            yield from self.walk(target, f"{arcname}/", ancestors)
        elif stat.S_ISREG(info.st_mode):
            yield SourceFile(arcname, target, info.st_size, bool(info.st_mode & stat.S_IXUSR))
        else:
            raise UsageError(f"{arcname}: not a regular file or directory; remove it or exclude it with --exclude")


def _is_dir(entry: os.DirEntry) -> bool:
    """``entry.is_dir()``, but a symlink loop is "not a folder" here and reported by the resolver."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _builtin_skip(name: str, prefix: str, is_dir: bool) -> bool:
    if name.startswith("."):
        return True
    if is_dir:
        return name in _SKIPPED_DIRS
    if name in _SKIPPED_FILES or name.endswith(_SKIPPED_SUFFIXES):
        return True
    return not prefix and name == MANIFEST_NAME


def _resolve_inside(real_root: Path, path: Path, arcname: str) -> Path:
    """Follow a symlink, refusing ones that are broken or leave the model dir."""
    if not path.is_symlink():
        return path
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop (ELOOP)
        raise UsageError(f"{arcname}: broken or looping symlink -> {os.readlink(path)}") from None
    if target != real_root and real_root not in target.parents:
        raise UsageError(
            f"{arcname}: symlink points outside the model path ({target}); copy the file in or exclude it"
        )
    return target
