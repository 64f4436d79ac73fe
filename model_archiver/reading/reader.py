"""Open a model archive - ``.mar`` (zip), ``.tar.gz`` or unarchived directory - as one interface.

The reader is a :class:`~model_archiver.sources.FileSource`, so validation
runs on an archive exactly as on a model directory. Names are always relative
to the model root: a tarball in MMS's ``<model-name>/`` layout has that folder
stripped.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator

from model_archiver.errors import IntegrityError, UsageError
from model_archiver.layout import MANIFEST_PATH, RECORD_PATH
from model_archiver.manifest import parse_manifest
from model_archiver.record import FileRecord, parse_record

log = logging.getLogger(__name__)

_METHOD_NAMES = {zipfile.ZIP_STORED: "store", zipfile.ZIP_DEFLATED: "deflate"}


@dataclass(frozen=True)
class MemberInfo:
    """How one file is held in the archive."""

    name: str
    size: int
    compressed_size: int | None
    compression: str


class ArchiveReader(ABC):
    """Common behaviour; subclasses supply listing and opening."""

    kind = "archive"

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the underlying file (nothing to do for a directory)."""

    @abstractmethod
    def members(self) -> dict[str, MemberInfo]:
        """Every regular file, by name relative to the model root."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO:
        """A stream of the file's uncompressed bytes."""

    # -- FileSource -----------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self.members())

    def size(self, name: str) -> int:
        return self._member(name).size

    def _member(self, name: str) -> MemberInfo:
        try:
            return self.members()[name]
        except KeyError:
            raise UsageError(f"{self.path}: no file {name!r} in the archive") from None

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def iter_files(self) -> Iterator[tuple[str, BinaryIO]]:
        """Every file in storage order, for one sequential pass (verify, extract)."""
        for name in self.names():
            with self.open(name) as handle:
                yield name, handle

    @cached_property
    def manifest(self) -> dict[str, Any]:
        if MANIFEST_PATH not in self.members():
            raise UsageError(f"{self.path}: not a model archive (no {MANIFEST_PATH})")
        return parse_manifest(self.read(MANIFEST_PATH))

    @cached_property
    def record(self) -> dict[str, FileRecord] | None:
        """The per-file digests, or None for archives built by other tools."""
        if RECORD_PATH not in self.members():
            return None
        return parse_record(self.read(RECORD_PATH))

    def extract_all(self, dest: Path) -> None:
        """Extract every file under ``dest``, refusing names that would land outside it."""
        dest = Path(dest)
        for name, handle in self.iter_files():
            target = dest / safe_relative_path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                shutil.copyfileobj(handle, out, 1 << 20)


def safe_relative_path(name: str) -> PurePosixPath:
    """The member name as a relative path, or :class:`IntegrityError` if it could escape."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or ":" in path.parts[0]:
        raise IntegrityError(f"unsafe path in archive: {name!r}")
    return path


class ZipReader(ArchiveReader):
    kind = "mar"

    def __init__(self, path: Path):
        super().__init__(path)
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise UsageError(f"{path}: not a readable zip archive ({exc})") from None

    @cached_property
    def _infos(self) -> dict[str, zipfile.ZipInfo]:
        return {i.filename: i for i in self._zip.infolist() if not i.is_dir()}

    def members(self) -> dict[str, MemberInfo]:
        return {
            name: MemberInfo(name, i.file_size, i.compress_size, _METHOD_NAMES.get(i.compress_type, str(i.compress_type)))
            for name, i in self._infos.items()
        }

    def open(self, name: str) -> BinaryIO:
        self._member(name)
        return self._zip.open(self._infos[name])  # type: ignore[return-value]

    def iter_files(self) -> Iterator[tuple[str, BinaryIO]]:
        for info in sorted(self._infos.values(), key=lambda i: i.header_offset):
            with self._zip.open(info) as handle:
                yield info.filename, handle  # type: ignore[misc]

    def close(self) -> None:
        self._zip.close()


class TarReader(ArchiveReader):
    kind = "tgz"

    def __init__(self, path: Path):
        super().__init__(path)
        try:
            self._tar = tarfile.open(path, "r:*")
            self._all = [m for m in self._tar.getmembers() if not m.isdir()]
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UsageError(f"{path}: not a readable tar archive ({exc})") from None
        self._prefix = _layout_prefix([m.name for m in self._all])

    def _strip(self, name: str) -> str:
        return name[len(self._prefix):] if name.startswith(self._prefix) else name

    @cached_property
    def _by_name(self) -> dict[str, tarfile.TarInfo]:
        return {self._strip(m.name): m for m in self._all}

    def members(self) -> dict[str, MemberInfo]:
        return {name: MemberInfo(name, m.size, None, "gzip") for name, m in self._by_name.items()}

    def open(self, name: str) -> BinaryIO:
        member = self._by_name[self._member(name).name]
        if not member.isfile():
            raise IntegrityError(f"{self.path}: {member.name!r} is a link or special file, not a regular file")
        return self._tar.extractfile(member)  # type: ignore[return-value]

    def iter_files(self) -> Iterator[tuple[str, BinaryIO]]:
        for member in self._all:
            yield self._strip(member.name), self.open(self._strip(member.name))

    def close(self) -> None:
        self._tar.close()


def _layout_prefix(names: list[str]) -> str:
    """``"<model>/"`` for MMS's folder layout, ``""`` for files at the root."""
    if MANIFEST_PATH in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1:
        top = tops.pop()
        if f"{top}/{MANIFEST_PATH}" in names:
            return f"{top}/"
    return ""


class DirectoryReader(ArchiveReader):
    kind = "directory"

    @cached_property
    def _files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for root, dirs, files in os.walk(self.path):
            dirs.sort()
            for name in files:
                full = Path(root, name)
                found[full.relative_to(self.path).as_posix()] = full
        return found

    def members(self) -> dict[str, MemberInfo]:
        return {name: MemberInfo(name, p.stat().st_size, None, "none") for name, p in self._files.items()}

    def open(self, name: str) -> BinaryIO:
        self._member(name)
        path = self._files[name]
        if not stat.S_ISREG(path.lstat().st_mode):
            raise IntegrityError(f"{path}: a link or special file, not a regular file")
        return path.open("rb")


def open_archive(path: str | Path) -> ArchiveReader:
    """Open ``path`` with the reader its content calls for (not its suffix)."""
    target = Path(path)
    if target.is_dir():
        return DirectoryReader(target)
    if not target.is_file():
        raise UsageError(f"{target}: no such archive")
    if zipfile.is_zipfile(target):
        return ZipReader(target)
    return TarReader(target)
