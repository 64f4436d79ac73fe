"""File objects that keep reading an untrusted archive bounded and its errors one line.

:class:`Inflating` sits between ``tarfile`` and a decompressor: every byte the
decompressor produces is counted against the compressed bytes consumed and
the total limit *as it is produced*, so a decompression bomb stops at the
limit. :class:`Guarded` wraps one member's stream: corrupt data, bad CRCs and
unsupported features become :class:`~model_archiver.errors.IntegrityError`,
and reading a member whole is refused past the JSON size limit.
"""
from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from typing import Any, BinaryIO

from model_archiver.errors import IntegrityError
from model_archiver.safety import limits

_CHUNK = 1 << 20
# Errors the standard library's readers raise for damaged archives.
READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
    ValueError,
)
try:  # optional compressors of tar archives
    import lzma

    READ_ERRORS += (lzma.LZMAError,)
except ImportError:  # pragma: no cover
    pass


class Inflating(io.RawIOBase):
    """A seekable view of a decompressor whose output is bounded by ratio and total size."""

    def __init__(self, decompressed: BinaryIO, raw: BinaryIO, what: str):
        super().__init__()
        self._inner = decompressed
        self._raw = raw
        self._what = what
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        cap = limits.active().max_json_bytes + 8 * limits.MiB
        if size is None or size < 0 or size > cap:
            raise limits.LimitExceeded(f"{self._what}: a header asks for more than {cap} bytes at once")
        parts = []
        while size > 0:
            chunk = self._inner.read(min(size, _CHUNK))
            if not chunk:
                break
            self._advance(len(chunk))
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    def _advance(self, count: int) -> None:
        self._pos += count
        limits.check_total(self._pos, self._what)
        limits.check_ratio(self._pos, self._raw.tell(), self._what)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset}.get(whence)
        if target is None:
            raise io.UnsupportedOperation("seek from the end of a compressed stream")
        if target < self._pos:
            self._inner.seek(0)
            self._pos = 0
        while self._pos < target:
            chunk = self._inner.read(min(target - self._pos, _CHUNK))
            if not chunk:
                break
            self._advance(len(chunk))
        return self._pos

    def close(self) -> None:
        self._inner.close()
        super().close()


class Guarded(io.RawIOBase):
    """One member's bytes; damage becomes one-line :class:`IntegrityError`, whole reads are bounded."""

    def __init__(self, inner: BinaryIO, size: int, what: str):
        super().__init__()
        self._inner = inner
        self._size = size
        self._what = what

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        if size is None or size < 0:
            limit = limits.active().max_json_bytes
            if self._size > limit:
                raise limits.LimitExceeded(f"{self._what} is {self._size} bytes, too large to read whole "
                                           f"(limit {limit}; raise --max-json-bytes if it is genuine)")
        try:
            return self._inner.read(size)
        except limits.LimitExceeded:
            raise
        except READ_ERRORS as exc:
            raise IntegrityError(f"{self._what}: cannot be read ({type(exc).__name__}: {exc})") from None

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        try:
            return bool(self._inner.seekable())
        except READ_ERRORS:
            return False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return self._inner.seek(offset, whence)
        except limits.LimitExceeded:
            raise
        except READ_ERRORS as exc:
            raise IntegrityError(f"{self._what}: cannot be read ({type(exc).__name__}: {exc})") from None

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        try:
            self._inner.close()
        except READ_ERRORS:
            pass
        super().close()
