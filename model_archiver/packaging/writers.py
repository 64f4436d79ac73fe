"""Archive writers for the three output formats, behind one small interface.

Each writer streams file bytes through :class:`HashingCopier` and gives every
entry the same timestamp and normalised permissions (0644, or 0755 for files
the owner can execute) so the output depends only on the inputs.

The zip writer relies on :mod:`zipfile` writing to a seekable file: it then
patches each local header with the CRC and sizes after the data, and never
emits a data descriptor - which Java's ``ZipInputStream`` (used by MMS to
unzip) rejects for stored entries. Zip64 headers are chosen from the known
file size, so files of 4 GiB and more work.

Large stored entries (weights) and unarchived output skip Python's write path:
zipfile writes the local header, the kernel copies the bytes behind it
(:meth:`HashingCopier.copy_to_fd`), and zipfile's own entry closing patches the
header with the CRC and size computed beside the copy - the bytes are the same
as writing the data through zipfile.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from model_archiver.packaging.collect import SourceFile
from model_archiver.packaging.compression import DEFLATE, STORE
from model_archiver.packaging.streaming import HashingCopier, record_bytes
from model_archiver.packaging.timestamps import zip_date_time
from model_archiver.record import FileRecord

_ZIP_METHODS = {STORE: zipfile.ZIP_STORED, DEFLATE: zipfile.ZIP_DEFLATED}
_DEFLATE_LEVEL = 6
# Below this a kernel copy on another thread costs more in hand-offs than it saves.
KERNEL_COPY_MIN = 256 * 1024


def open_fresh(path: Path) -> BinaryIO:
    """Open the (empty) temporary file for writing without truncating it.

    ``"wb"`` would truncate, and on ext4 a truncated-then-rewritten file is
    flushed to disk on close (auto_da_alloc): ~0.4 s per GiB for nothing,
    since the archive is moved into place afterwards anyway.
    """
    return path.open("r+b")


def file_mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


class ArchiveWriter(Protocol):
    def add_file(self, entry: SourceFile, method: str) -> FileRecord: ...

    def add_bytes(self, arcname: str, data: bytes, method: str) -> FileRecord: ...

    def close(self) -> None: ...


class ZipWriter:
    """A ``.mar``: a zip MMS's Java frontend can unzip."""

    def __init__(self, path: Path, epoch: int, copier: HashingCopier):
        self._file = open_fresh(path)
        self._zip = zipfile.ZipFile(self._file, "w", allowZip64=True)
        self._date_time = zip_date_time(epoch)
        self._copier = copier

    def _info(self, arcname: str, method: str, size: int, executable: bool = False) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(arcname, date_time=self._date_time)
        info.compress_type = _ZIP_METHODS[method]
        info._compresslevel = _DEFLATE_LEVEL if method == DEFLATE else None  # type: ignore[attr-defined]
        info.create_system = 3  # unix, whatever the build host
        info.external_attr = (0o100000 | file_mode(executable)) << 16
        info.file_size = size  # lets zipfile pick Zip64 headers up front
        return info

    def add_file(self, entry: SourceFile, method: str) -> FileRecord:
        info = self._info(entry.arcname, method, entry.size, entry.executable)
        with self._zip.open(info, "w") as dest:
            if method == STORE and entry.size >= KERNEL_COPY_MIN:
                return self._copy_stored(entry, dest)
            return self._copier.copy(entry, dest.write)

    def _copy_stored(self, entry: SourceFile, dest: Any) -> FileRecord:
        """Put the bytes behind the header zipfile just wrote; closing ``dest`` patches the header.

        ``dest`` is zipfile's entry writer: it is told the size and CRC that
        its own ``write`` would have counted (``_file_size``, ``_crc``), so its
        ``close`` writes the same header, central directory entry and Zip64
        fields as for data written through it.
        """
        self._file.flush()
        offset = self._file.tell()
        record, crc = self._copier.copy_to_fd(entry, self._file.fileno(), offset)
        self._file.seek(offset + record.size)
        dest._file_size = record.size  # noqa: SLF001 - see the docstring
        dest._crc = crc  # noqa: SLF001
        return record

    def add_bytes(self, arcname: str, data: bytes, method: str) -> FileRecord:
        with self._zip.open(self._info(arcname, method, len(data)), "w") as dest:
            dest.write(data)
        return record_bytes(arcname, data)

    def close(self) -> None:
        self._zip.close()
        self._file.close()


class TarGzWriter:
    """A ``.tar.gz`` with files at the root (SageMaker) or under ``<model>/`` (MMS)."""

    def __init__(self, path: Path, epoch: int, copier: HashingCopier, prefix: str, level: int):
        import gzip  # only tarballs need these; a .mar build does not pay their import
        import tarfile

        self._tarfile = tarfile
        self._raw = open_fresh(path)
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=epoch, compresslevel=level)
        self._tar = tarfile.open(fileobj=self._gzip, mode="w", format=tarfile.PAX_FORMAT, copybufsize=1 << 20)
        self._epoch = epoch
        self._copier = copier
        self._prefix = prefix

    def _info(self, arcname: str, size: int, executable: bool = False) -> Any:
        info = self._tarfile.TarInfo(self._prefix + arcname)
        info.size = size
        info.mtime = self._epoch
        info.mode = file_mode(executable)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def add_file(self, entry: SourceFile, method: str) -> FileRecord:
        with self._copier.reader(entry) as reader:
            self._tar.addfile(self._info(entry.arcname, entry.size, entry.executable), reader)
            return reader.finish()

    def add_bytes(self, arcname: str, data: bytes, method: str) -> FileRecord:
        self._tar.addfile(self._info(arcname, len(data)), io.BytesIO(data))
        return record_bytes(arcname, data)

    def close(self) -> None:
        self._tar.close()
        self._gzip.close()
        self._raw.close()


class DirectoryWriter:
    """An unarchived model: the files plus ``MAR-INF/``, servable by MMS as is."""

    def __init__(self, path: Path, copier: HashingCopier):
        self._root = path
        self._copier = copier

    def _target(self, arcname: str) -> Path:
        target = self._root / arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add_file(self, entry: SourceFile, method: str) -> FileRecord:
        target = self._target(entry.arcname)
        with target.open("wb") as dest:
            if entry.size >= KERNEL_COPY_MIN:
                record = self._copier.copy_to_fd(entry, dest.fileno(), 0)[0]
            else:
                record = self._copier.copy(entry, dest.write)
        target.chmod(file_mode(entry.executable))
        return record

    def add_bytes(self, arcname: str, data: bytes, method: str) -> FileRecord:
        target = self._target(arcname)
        target.write_bytes(data)
        target.chmod(file_mode(False))
        return record_bytes(arcname, data)

    def close(self) -> None:
        """Nothing buffered: each file was closed as it was written."""
