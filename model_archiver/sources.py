"""A read-only view of "the files of a model", whatever holds them.

Validation and inspection work on a model directory about to be archived and
on an archive already built; both are a :class:`FileSource`, so each check is
written once.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Iterable, Mapping, Protocol


class FileSource(Protocol):
    """Files addressed by their archive name (posix, relative to the model root)."""

    def names(self) -> list[str]:
        """All file names, sorted."""

    def size(self, name: str) -> int:
        """Size in bytes of ``name`` (uncompressed)."""

    def open(self, name: str) -> BinaryIO:
        """A binary stream positioned at the start of ``name``; the caller closes it."""


class MappingSource:
    """Files given as ``archive name -> path on disk`` (a directory being archived)."""

    def __init__(self, files: Mapping[str, Path]):
        self._files = dict(files)

    @classmethod
    def from_paths(cls, pairs: Iterable[tuple[str, Path]]) -> "MappingSource":
        return cls(dict(pairs))

    def names(self) -> list[str]:
        return sorted(self._files)

    def size(self, name: str) -> int:
        return self._files[name].stat().st_size

    def open(self, name: str) -> BinaryIO:
        return self._files[name].open("rb")

    def path(self, name: str) -> Path:
        """The file on disk behind ``name`` (directories only; archives have none)."""
        return self._files[name]
