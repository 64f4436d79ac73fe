"""Hand-made archives for the hostile-input corpus: every byte chosen by the test, not by the builder.

A "good" archive holds a manifest, a handler and a RECORD that lists every
other entry - including the hostile one - so ``verify`` cannot pass an
unsafe archive merely because its record is wrong.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import stat
import struct
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

HANDLER = b"def handle(data, context):\n    return data\n"


def manifest(name: str = "m", handler: str = "service:handle", **model: object) -> bytes:
    doc = {"runtime": "python", "model": {"modelName": name, "handler": handler, **model},
           "modelServerVersion": "1.0", "implementationVersion": "1.0", "specificationVersion": "1.0"}
    return json.dumps(doc).encode()


@dataclass
class Entry:
    """One archive entry. ``kind``: file, dir, symlink, hardlink, chr, blk, fifo."""

    name: str
    data: bytes = b""
    kind: str = "file"
    target: str = ""
    in_record: bool = True


def record(entries: Iterable[Entry]) -> bytes:
    files = [{"path": e.name, "sha256": hashlib.sha256(e.data).hexdigest(), "size": len(e.data)}
             for e in entries if e.kind == "file" and e.in_record]
    return json.dumps({"version": 1, "algorithm": "sha256", "files": files}).encode()


def base_entries(extra: Iterable[Entry] = (), manifest_bytes: bytes | None = None) -> list[Entry]:
    entries = [Entry("MAR-INF/MANIFEST.json", manifest() if manifest_bytes is None else manifest_bytes),
               Entry("service.py", HANDLER), *extra]
    return entries + [Entry("MAR-INF/RECORD.json", record(entries))]


def write_zip(path: Path, entries: list[Entry], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, (2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            if entry.kind == "symlink":
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, entry.target)
            elif entry.kind == "dir":
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                zf.writestr(info, b"")
            else:
                zf.writestr(info, entry.data)
    return path


def write_tar(path: Path, entries: list[Entry], mode: str = "w:gz") -> Path:
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tf:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = kinds[entry.kind]
            info.mtime = 1_577_836_800
            info.linkname = entry.target
            info.size = len(entry.data) if entry.kind == "file" else 0
            tf.addfile(info, io.BytesIO(entry.data) if entry.kind == "file" else None)
    return path


def write_folder(path: Path, entries: list[Entry]) -> Path:
    import os

    for entry in entries:
        target = path / entry.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.kind == "file":
            target.write_bytes(entry.data)
        elif entry.kind == "symlink":
            os.symlink(entry.target, target)
        elif entry.kind == "fifo":
            os.mkfifo(target)
        elif entry.kind == "dir":
            target.mkdir(exist_ok=True)
    return path


def zero_tgz(path: Path, size: int, name: str = "weights.bin") -> Path:
    """A tar.gz whose one big member is zeros, streamed so the test never holds it in memory."""
    entries = base_entries()
    with gzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|") as tf:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.size = len(entry.data)
            tf.addfile(info, io.BytesIO(entry.data))
        info = tarfile.TarInfo(name)
        info.size = size
        tf.addfile(info, _Zeros(size))
    return path


def zero_zip(path: Path, size: int, name: str = "weights.bin") -> Path:
    """A zip whose one big deflated member is zeros (about 1000:1)."""
    write_zip(path, base_entries())
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w", force_zip64=True) as out:
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def patch_zip_flag(path: Path, name: str | bytes, flag_or: int = 0, method: int | None = None) -> Path:
    """Set bits of an entry's general-purpose flag (and its method) in both headers."""
    data = bytearray(path.read_bytes())
    encoded = name if isinstance(name, bytes) else name.encode()
    for signature, flag_at, method_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 8, 26, 30),
                                                                 (b"PK\x01\x02", 8, 10, 28, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", data, start + name_len_at)[0]
            if bytes(data[start + name_at:start + name_at + length]) == encoded:
                flags = struct.unpack_from("<H", data, start + flag_at)[0] | flag_or
                struct.pack_into("<H", data, start + flag_at, flags)
                if method is not None:
                    struct.pack_into("<H", data, start + method_at, method)
            start += 4
    path.write_bytes(bytes(data))
    return path


def patch_zip_name(path: Path, old: bytes, new: bytes) -> Path:
    """Replace an entry name's bytes (same length) everywhere, e.g. to make it non-UTF-8."""
    assert len(old) == len(new)
    path.write_bytes(path.read_bytes().replace(old, new))
    return path


def now() -> float:
    return time.monotonic()
