"""Copy a file into an archive while computing its sha256 (and its CRC-32 for zip).

Memory stays at a few chunks whatever the file size. Two ways in:

* :meth:`HashingCopier.copy` streams chunks into a sink (zipfile's deflating
  writer, small files). The digest runs on a worker thread while the main
  thread does the CRC and the write (both release the GIL in CPython).
* :meth:`HashingCopier.copy_to_fd` is for bytes that go out unchanged (stored
  zip entries, unarchived output): the kernel copies the file with
  ``os.copy_file_range`` on one thread (no user-space copy; read/write where
  the kernel or file system refuses), while the main thread re-reads the
  source from the page cache for the CRC and a second thread hashes it. The
  write path never waits for a checksum.

The CRC comes from zlib-ng's SIMD ``crc32`` when installed (~0.1 s/GiB against
0.5-0.9 s/GiB for zlib's, as much as the sha256 itself); same values either way.
"""
from __future__ import annotations

import errno
import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

try:
    from zlib_ng.zlib_ng import crc32
except ImportError:  # the optional accelerator; zlib's is correct, only slower
    from zlib import crc32

from model_archiver.errors import UsageError
from model_archiver.packaging.collect import SourceFile
from model_archiver.record import FileRecord

CHUNK_SIZE = 4 * 1024 * 1024
# Errors meaning "copy_file_range cannot do this copy" (old kernel, cross-device,
# special file system): fall back to read/write.
_NO_KERNEL_COPY = frozenset({errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM})

Progress = Callable[[int], None]
Sink = Callable[[bytes], Any]


class HashingCopier:
    """Streams files into sinks, one hashing thread for the whole build."""

    def __init__(self, on_bytes: Optional[Progress] = None):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self._copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy")
        self._on_bytes = on_bytes
        self._buffers = (bytearray(CHUNK_SIZE), bytearray(CHUNK_SIZE))

    def __enter__(self) -> "HashingCopier":
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        self._copier.shutdown(wait=True)

    def copy_to_fd(self, entry: SourceFile, fd: int, offset: int) -> tuple[FileRecord, int]:
        """Write ``entry``'s bytes into ``fd`` at ``offset``; its record and CRC-32.

        ``fd``'s file position is left alone. Fails if the file changed size
        meanwhile (the copy and the checksums would disagree).
        """
        with open(entry.path, "rb", buffering=0) as source:
            size = os.fstat(source.fileno()).st_size
            if size != entry.size:
                raise UsageError(f"{entry.arcname}: file changed while it was being archived; build again")
            copying = self._copier.submit(_copy_range, source.fileno(), fd, size, offset)
            try:
                digest, crc, hashed = self._checksums(source)
            finally:
                copied = copying.result()
        if copied != size or hashed != size:
            raise UsageError(f"{entry.arcname}: file changed while it was being archived; build again")
        return FileRecord(entry.arcname, digest.hexdigest(), size), crc

    def _checksums(self, source: Any) -> tuple["hashlib._Hash", int, int]:
        """sha256 (on the hashing thread) and CRC-32 (here) of ``source`` read from its start."""
        digest = hashlib.sha256()
        crc = count = turn = 0
        pending: Future | None = None
        while True:
            buffer = memoryview(self._buffers[turn])
            read = source.readinto(buffer)
            if not read:
                break
            chunk = buffer[:read]
            if pending is not None:
                pending.result()  # the other buffer is free again once its hash is done
            pending = self._pool.submit(digest.update, chunk)
            crc = crc32(chunk, crc)
            count += read
            turn ^= 1
            if self._on_bytes:
                self._on_bytes(read)
        if pending is not None:
            pending.result()
        return digest, crc, count

    def copy(self, entry: SourceFile, sink: Sink) -> FileRecord:
        """Write ``entry``'s bytes to ``sink``; fail if the file changed size meanwhile."""
        digest = hashlib.sha256()
        pending: Future | None = None
        copied = 0
        # A small file is read whole: read(CHUNK_SIZE) would allocate (and fault in) 4 MiB per file.
        size = min(CHUNK_SIZE, entry.size + 1)
        with open(entry.path, "rb", buffering=0) as source:
            while chunk := source.read(size):
                pending = self._hash_async(digest, chunk, pending)
                sink(chunk)
                copied += len(chunk)
                if self._on_bytes:
                    self._on_bytes(len(chunk))
        if pending is not None:
            pending.result()
        if copied != entry.size:
            raise UsageError(f"{entry.arcname}: file changed while it was being archived; build again")
        return FileRecord(entry.arcname, digest.hexdigest(), copied)

    def reader(self, entry: SourceFile) -> "HashingReader":
        """A file object for pull-style writers (tarfile) that hashes what is read."""
        return HashingReader(entry, self._on_bytes)

    def _hash_async(self, digest: "hashlib._Hash", chunk: bytes, previous: Future | None) -> Future | None:
        if previous is not None:
            previous.result()
        if len(chunk) < CHUNK_SIZE and previous is None:
            digest.update(chunk)  # a small file: a thread hop would cost more than it saves
            return None
        return self._pool.submit(digest.update, chunk)


class HashingReader:
    """``read(n)`` over a source file, hashing and counting as it goes."""

    def __init__(self, entry: SourceFile, on_bytes: Optional[Progress]):
        self._entry = entry
        self._file = entry.path.open("rb")
        self._digest = hashlib.sha256()
        self._count = 0
        self._on_bytes = on_bytes

    def __enter__(self) -> "HashingReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._digest.update(data)
        self._count += len(data)
        if self._on_bytes and data:
            self._on_bytes(len(data))
        return data

    def finish(self) -> FileRecord:
        """The record, once the writer has read ``entry.size`` bytes and no more exist."""
        if self._count != self._entry.size or self._file.read(1):
            raise UsageError(f"{self._entry.arcname}: file changed while it was being archived; build again")
        return FileRecord(self._entry.arcname, self._digest.hexdigest(), self._count)


def _copy_range(source: int, target: int, size: int, offset: int) -> int:
    """Copy ``size`` bytes of ``source`` (from its start) to ``target`` at ``offset``; bytes copied."""
    done = 0
    try:
        while done < size:
            count = os.copy_file_range(source, target, size - done, done, offset + done)
            if count == 0:  # the file shrank
                return done
            done += count
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY or done:
            raise
        return _read_write(source, target, size, offset)
    except AttributeError:  # no os.copy_file_range on this platform or Python
        return _read_write(source, target, size, offset)
    return done


def _read_write(source: int, target: int, size: int, offset: int) -> int:
    done = 0
    while done < size:
        chunk = os.pread(source, min(CHUNK_SIZE, size - done), done)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            written = os.pwrite(target, view, offset + done)
            view = view[written:]
            done += written
    return done


def record_bytes(arcname: str, data: bytes) -> FileRecord:
    """The record of an entry written from memory (manifest, generated files)."""
    return FileRecord(arcname, hashlib.sha256(data).hexdigest(), len(data))
