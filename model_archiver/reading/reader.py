"""Open a model archive - ``.mar`` (zip), ``.tar.gz`` or unarchived directory - as one interface.

The reader is a :class:`~model_archiver.sources.FileSource`, so validation
runs on an archive exactly as on a model directory. Names are always relative
to the model root: a tarball in MMS's ``<model-name>/`` layout has that folder
stripped.

Archives are untrusted. The listing is built once, in one pass (linear in the
entry count), and checks every entry against the one naming rule
(:mod:`model_archiver.safety.entry_names`) and the limits
(:mod:`model_archiver.safety.limits`): entries that break them are kept out
of :meth:`members` and reported in :attr:`violations`, which ``inspect``
and ``verify`` turn into errors and extraction refuses.
"""
from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator

from model_archiver.errors import ArchiverError, IntegrityError, UsageError
from model_archiver.layout import MANIFEST_PATH, RECORD_PATH
from model_archiver.manifest import parse_manifest
from model_archiver.reading.streams import READ_ERRORS, Guarded, Inflating
from model_archiver.record import FileRecord, parse_record
from model_archiver.safety import entry_names, limits
from model_archiver.safety.entry_names import FILE, FOLDER, EntrySet, Violation
from model_archiver.safety.json_members import JSONLimitError, read_member

log = logging.getLogger(__name__)

_METHOD_NAMES = {zipfile.ZIP_STORED: "store", zipfile.ZIP_DEFLATED: "deflate",
                 zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_UNIX = 3


@dataclass(frozen=True)
class MemberInfo:
    """How one file is held in the archive."""

    name: str
    size: int
    compressed_size: int | None
    compression: str


@dataclass
class Listing:
    """The result of the one listing pass: readable regular files, folders and every violation."""

    members: dict[str, MemberInfo] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)


class ArchiveReader(ABC):
    """Common behaviour; subclasses supply the listing pass and opening."""

    kind = "archive"

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the underlying file (nothing to do for a directory)."""

    @cached_property
    def listing(self) -> Listing:
        """Built once; every lookup after that is O(1)."""
        return self._list()

    @abstractmethod
    def _list(self) -> Listing:
        """One pass over the archive's entries."""

    @abstractmethod
    def _open(self, name: str) -> BinaryIO:
        """The raw stream of a member known to be a safe regular file."""

    def members(self) -> dict[str, MemberInfo]:
        """Every safe regular file, by name relative to the model root."""
        return self.listing.members

    @property
    def violations(self) -> list[Violation]:
        """Entries that break the naming rule or the limits; never readable, never extracted."""
        return self.listing.violations

    def open(self, name: str) -> BinaryIO:
        """A stream of the file's uncompressed bytes; damage reads as :class:`IntegrityError`."""
        member = self._member(name)
        return Guarded(self._open(name), member.size, f"{self.path}: {name}")  # type: ignore[return-value]

    # -- FileSource -----------------------------------------------------
    def names(self) -> list[str]:
        return self._sorted_names

    @cached_property
    def _sorted_names(self) -> list[str]:
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

    def scan_files(self) -> Iterator[tuple[str, BinaryIO]]:
        """Like :meth:`iter_files`, but may list and read in the same pass (names via :meth:`short_name`)."""
        return self.iter_files()

    def short_name(self, scanned: str) -> str:
        """The member name of a name yielded by :meth:`scan_files` (valid once the scan is done)."""
        return scanned

    def read_json_member(self, name: str) -> bytes:
        """A JSON member's bytes, refused past the JSON size limit before it is inflated."""
        with self.open(name) as handle:
            try:
                return read_member(handle, name)
            except JSONLimitError as exc:
                raise limits.LimitExceeded(f"{self.path}: {exc}") from None

    @cached_property
    def manifest(self) -> dict[str, Any]:
        if MANIFEST_PATH not in self.members():
            unsafe = next((v for v in self.violations if v.name == MANIFEST_PATH), None)
            if unsafe is not None:
                raise IntegrityError(f"{self.path}: {MANIFEST_PATH}: {unsafe.reason}")
            raise UsageError(f"{self.path}: not a model archive (no {MANIFEST_PATH})")
        return parse_manifest(self.read_json_member(MANIFEST_PATH))

    @cached_property
    def record(self) -> dict[str, FileRecord] | None:
        """The per-file digests, or None for archives built by other tools."""
        if RECORD_PATH not in self.members():
            return None
        return parse_record(self.read_json_member(RECORD_PATH))

    def check_safe(self) -> None:
        """Raise :class:`IntegrityError` naming the first unsafe entry (run and extraction refuse them)."""
        found = self.violations
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise IntegrityError(f"{self.path}: unsafe entry {found[0]}{more}; refusing to extract")

    def extract_all(self, dest: Path) -> None:
        """Extract every file under ``dest`` (a new folder); unsafe or oversized archives are refused first."""
        dest = Path(dest)
        self.check_safe()
        _check_free_space(dest, sum(m.size for m in self.members().values()), self.path)
        dest.mkdir(parents=True, exist_ok=True)
        for folder in self.listing.folders:
            (dest / folder).mkdir(parents=True, exist_ok=True)
        for name, handle in self.iter_files():
            target = dest / safe_relative_path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with target.open("xb") as out:
                    shutil.copyfileobj(handle, out, 1 << 20)
            except FileExistsError:
                raise IntegrityError(f"{self.path}: entry {name!r} clashes with another entry on this "
                                     "file system (names differing only in case?)") from None


def _check_free_space(dest: Path, needed: int, archive: Path) -> None:
    """Refuse to start an extraction the target's file system cannot hold."""
    probe = dest
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise ArchiverError(f"{archive}: extracting needs {needed} bytes but {probe} has {free} free")


def safe_relative_path(name: str) -> PurePosixPath:
    """The member name as a relative path, or :class:`IntegrityError` if it breaks the naming rule."""
    problem = entry_names.name_problem(name)
    if problem:
        raise IntegrityError(f"unsafe path in archive: {name!r}: {problem}")
    return PurePosixPath(name)


class ZipReader(ArchiveReader):
    kind = "mar"

    def __init__(self, path: Path):
        super().__init__(path)
        _check_zip_entry_count(path)
        try:
            self._zip = zipfile.ZipFile(path)
        except UnicodeDecodeError:
            raise IntegrityError(f"{path}: a file name flagged UTF-8 is not UTF-8") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise UsageError(f"{path}: not a readable zip archive ({exc})") from None
        self._infos: dict[str, zipfile.ZipInfo] = {}

    def _list(self) -> Listing:
        listing = Listing()
        entries = EntrySet()
        total = 0
        for info in self._zip.infolist():
            kind = FOLDER if info.is_dir() else FILE
            if not entries.add(info.filename, kind, _zip_special(info)):
                continue
            if kind == FOLDER:
                listing.folders.append(info.filename.rstrip("/"))
                continue
            total += info.file_size
            limits.check_total(total, str(self.path))
            self._infos[info.filename] = info
            listing.members[info.filename] = MemberInfo(
                info.filename, info.file_size, info.compress_size,
                _METHOD_NAMES.get(info.compress_type, str(info.compress_type)))
        listing.violations = entries.violations
        return listing

    def _open(self, name: str) -> BinaryIO:
        try:
            return self._zip.open(self._infos[name])  # type: ignore[return-value]
        except READ_ERRORS as exc:
            raise IntegrityError(f"{self.path}: {name}: cannot be read ({type(exc).__name__}: {exc})") from None

    def iter_files(self) -> Iterator[tuple[str, BinaryIO]]:
        for info in sorted((self._infos[n] for n in self.members()), key=lambda i: i.header_offset):
            with self.open(info.filename) as handle:
                yield info.filename, handle

    def close(self) -> None:
        self._zip.close()


def _zip_special(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry cannot be read as a plain file or folder, or None."""
    if not info.filename.isascii() and not info.flag_bits & _UTF8_FLAG:
        return "non-ASCII name not flagged as UTF-8"
    if info.flag_bits & _ENCRYPTED_FLAG:
        return "encrypted entry"
    if info.compress_type not in _METHOD_NAMES:
        return f"unsupported compression method {info.compress_type}"
    mode = info.external_attr >> 16
    if info.create_system == _UNIX and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return _NOT_PLAIN.format("a symbolic link" if stat.S_ISLNK(mode) else "a special file")
    active = limits.active()
    if info.file_size > active.ratio_slack_bytes and info.file_size > active.max_ratio * max(info.compress_size, 1):
        return (f"declares {info.file_size} bytes from {info.compress_size} compressed, more than "
                f"{active.max_ratio}:1 (raise --max-ratio if it is genuine)")
    return None


def _check_zip_entry_count(path: Path) -> None:
    """Refuse a zip whose end record claims too many entries, before its directory is parsed."""
    try:
        with path.open("rb") as handle:
            end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # stable since Python 2
    except (OSError, AttributeError, ValueError, EOFError):
        return
    if end:
        limits.check_entries(end[zipfile._ECD_ENTRIES_TOTAL], str(path))  # type: ignore[attr-defined]


_NOT_PLAIN = "{}; only regular files and folders are allowed"
_TAR_SPECIAL = (("issym", "a symbolic link"), ("islnk", "a hard link"), ("ischr", "a device file"),
                ("isblk", "a device file"), ("isfifo", "a FIFO"))


class TarReader(ArchiveReader):
    kind = "tgz"

    def __init__(self, path: Path):
        super().__init__(path)
        self._raw = path.open("rb")
        try:
            self._stream = Inflating(_decompressor(path, self._raw), self._raw, str(path))
            self._tar = tarfile.open(fileobj=self._stream, mode="r:")  # type: ignore[call-overload]
        except limits.LimitExceeded:
            self._raw.close()
            raise
        except (tarfile.TarError, *READ_ERRORS) as exc:
            self._raw.close()
            raise UsageError(f"{path}: not a readable tar archive ({exc})") from None
        self._by_name: dict[str, tarfile.TarInfo] = {}
        self._prefix = ""

    def _list(self) -> Listing:
        """One streaming pass over the headers; data blocks are skipped (and bounded) as they inflate."""
        for _ in self._pass(read=False):
            pass
        return self.__dict__["listing"]

    def scan_files(self) -> Iterator[tuple[str, BinaryIO]]:
        """List and read in one streaming pass when nothing was listed yet (how ``verify`` reads a tarball)."""
        if "listing" in self.__dict__:
            yield from self.iter_files()
            return
        for name, handle in self._pass(read=True):
            with handle:
                yield name, handle

    def short_name(self, scanned: str) -> str:
        return scanned[len(self._prefix):] if scanned.startswith(self._prefix) else scanned

    def _pass(self, read: bool) -> Iterator[tuple[str, BinaryIO]]:
        raw: list[tuple[str, str, tarfile.TarInfo | None]] = []
        entries = EntrySet()
        total = 0
        for info in self._next_members():
            limits.check_entries(len(raw) + 1, str(self.path))
            special = next((label for test, label in _TAR_SPECIAL if getattr(info, test)()), None)
            if special is None and not (info.isreg() or info.isdir()):
                special = f"an entry of tar type {info.type!r}"
            special = special and _NOT_PLAIN.format(special)
            kind = FOLDER if info.isdir() else FILE
            if not entries.add(info.name, kind, special):
                continue
            total += info.size
            limits.check_total(total, str(self.path))
            raw.append((info.name.rstrip("/"), kind, info if kind == FILE else None))
            if read and kind == FILE:
                stream = self._tar.extractfile(info)
                yield info.name, Guarded(stream, info.size, f"{self.path}: {info.name}")  # type: ignore[misc]
        self.__dict__["listing"] = self._strip_prefix(raw, entries.violations)

    def _next_members(self) -> Iterator[tarfile.TarInfo]:
        while True:
            try:
                info = self._tar.next()
            except limits.LimitExceeded:
                raise
            except (tarfile.TarError, *READ_ERRORS) as exc:
                raise IntegrityError(f"{self.path}: corrupt tar archive ({type(exc).__name__}: {exc})") from None
            if info is None:
                return
            self._tar.members.clear()  # our listing keeps what is needed; flat memory for tarfile
            yield info

    def _strip_prefix(self, raw: list[tuple[str, str, tarfile.TarInfo | None]], violations: list[Violation]) -> Listing:
        self._prefix = _layout_prefix([name for name, kind, _ in raw if kind == FILE])
        listing = Listing(violations=violations)
        for name, kind, info in raw:
            if f"{name}/" == self._prefix:
                continue
            short = self.short_name(name)
            if not short:
                continue
            if info is None:
                listing.folders.append(short)
                continue
            self._by_name[short] = info
            listing.members[short] = MemberInfo(short, info.size, None, "gzip")
        return listing

    def _open(self, name: str) -> BinaryIO:
        return self._tar.extractfile(self._by_name[name])  # type: ignore[return-value]

    def iter_files(self) -> Iterator[tuple[str, BinaryIO]]:
        for name in sorted(self.members(), key=lambda n: self._by_name[n].offset_data):
            with self.open(name) as handle:
                yield name, handle

    def close(self) -> None:
        self._tar.close()
        self._stream.close()
        self._raw.close()


def _decompressor(path: Path, raw: BinaryIO) -> BinaryIO:
    """The decompressing stream the file's magic bytes call for (plain tar when none)."""
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if magic == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    return raw


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

    def __init__(self, path: Path):
        super().__init__(path)
        self._files: dict[str, Path] = {}

    def _list(self) -> Listing:
        """Walk without following links: a link or special file is a violation, never a member."""
        listing = Listing()
        entries = EntrySet()
        total = 0
        for root, dirs, files in os.walk(self.path, onerror=self._walk_error):
            base = Path(root)
            dirs.sort()
            for name in sorted(dirs + files):
                full = base / name
                arcname = full.relative_to(self.path).as_posix()
                limits.check_entries(len(self._files) + len(listing.folders) + 1, str(self.path))
                info = self._lstat(full)
                kind, special = _file_kind(info.st_mode)
                if not entries.add(arcname, kind, special):
                    if name in dirs:
                        dirs.remove(name)
                    continue
                if kind == FOLDER:
                    listing.folders.append(arcname)
                    continue
                total += info.st_size
                limits.check_total(total, str(self.path))
                self._files[arcname] = full
                listing.members[arcname] = MemberInfo(arcname, info.st_size, None, "none")
        listing.violations = entries.violations
        return listing

    def _walk_error(self, exc: OSError) -> None:
        raise UsageError(f"{self.path}: cannot list {exc.filename}: {exc.strerror}")

    def _lstat(self, path: Path) -> os.stat_result:
        try:
            return path.lstat()
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from None

    def _open(self, name: str) -> BinaryIO:
        path = self._files[name]
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise IntegrityError(f"{path}: cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IntegrityError(f"{path}: a link or special file, not a regular file")
        return os.fdopen(fd, "rb")


def _file_kind(mode: int) -> tuple[str, str | None]:
    if stat.S_ISDIR(mode):
        return FOLDER, None
    if stat.S_ISREG(mode):
        return FILE, None
    return FILE, _NOT_PLAIN.format("a symbolic link" if stat.S_ISLNK(mode) else "a device, FIFO or socket")


def open_archive(path: str | Path) -> ArchiveReader:
    """Open ``path`` with the reader its content calls for (not its suffix)."""
    target = Path(path)
    if target.is_dir():
        return DirectoryReader(target)
    if not target.exists():
        raise UsageError(f"{target}: no such archive")
    if not target.is_file():
        raise UsageError(f"{target}: not a regular file (a FIFO or device cannot be an archive)")
    if zipfile.is_zipfile(target):
        return ZipReader(target)
    return TarReader(target)
