"""``MAR-INF/RECORD.json``: the sha256 and size of every other archive entry.

Written last by the builder and checked by ``verify``; the format is small,
sorted JSON so that it is itself reproducible and easy to read in CI logs.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Iterable

from model_archiver.errors import IntegrityError
from model_archiver.safety.json_members import parse

RECORD_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class FileRecord:
    """What the archive promises about one entry."""

    path: str
    sha256: str
    size: int


def dump_record(records: Iterable[FileRecord]) -> bytes:
    files = [asdict(r) for r in sorted(records, key=lambda r: r.path)]
    document = {"version": RECORD_VERSION, "algorithm": "sha256", "files": files}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def parse_record(raw: bytes) -> dict[str, FileRecord]:
    """Parse RECORD.json; a malformed record is an integrity failure, not a crash.

    Every field is type-checked (a size of ``1e400`` or ``true`` is malformed,
    not an overflow), and a path listed twice is refused: it would let one
    copy of a duplicated entry go unverified.
    """
    try:
        document = parse(raw, "MAR-INF/RECORD.json")
        if not isinstance(document, dict):
            raise ValueError("top level is not an object")
        if document.get("algorithm") != "sha256":
            raise ValueError(f"unsupported digest algorithm {document.get('algorithm')!r}")
        if not isinstance(document.get("files"), list):
            raise ValueError("'files' is not a list")
        entries = [_entry(f) for f in document["files"]]
    except ValueError as exc:
        raise IntegrityError(f"MAR-INF/RECORD.json is malformed: {exc}") from None
    records: dict[str, FileRecord] = {}
    for entry in entries:
        if entry.path in records:
            raise IntegrityError(f"MAR-INF/RECORD.json is malformed: {entry.path!r} is listed twice")
        records[entry.path] = entry
    return records


def _entry(item: object) -> FileRecord:
    if not isinstance(item, dict):
        raise ValueError("a file entry is not an object")
    path, sha256, size = item.get("path"), item.get("sha256"), item.get("size")
    if not isinstance(path, str):
        raise ValueError(f"path {path!r} is not a string")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError(f"{path}: sha256 is not 64 lowercase hex digits")
    if type(size) is not int or size < 0:
        raise ValueError(f"{path}: size {size!r} is not a non-negative integer")
    return FileRecord(path, sha256, size)
