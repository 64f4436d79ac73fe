"""Copy a file into an archive in chunks while computing its sha256.

Memory stays at a few chunks whatever the file size. The digest runs on a
worker thread while the main thread does the CRC and the write (both release
the GIL in CPython), so on two cores hashing costs almost no wall time.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

from model_archiver.errors import UsageError
from model_archiver.packaging.collect import SourceFile
from model_archiver.record import FileRecord

CHUNK_SIZE = 4 * 1024 * 1024

Progress = Callable[[int], None]
Sink = Callable[[bytes], Any]


class HashingCopier:
    """Streams files into sinks, one hashing thread for the whole build."""

    def __init__(self, on_bytes: Optional[Progress] = None):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self._on_bytes = on_bytes

    def __enter__(self) -> "HashingCopier":
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)

    def copy(self, entry: SourceFile, sink: Sink) -> FileRecord:
        """Write ``entry``'s bytes to ``sink``; fail if the file changed size meanwhile."""
        digest = hashlib.sha256()
        pending: Future | None = None
        copied = 0
        with entry.path.open("rb", buffering=0) as source:
            while chunk := source.read(CHUNK_SIZE):
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


def record_bytes(arcname: str, data: bytes) -> FileRecord:
    """The record of an entry written from memory (manifest, generated files)."""
    return FileRecord(arcname, hashlib.sha256(data).hexdigest(), len(data))
