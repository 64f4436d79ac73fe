"""``MAR-INF/RECORD.json``: the sha256 and size of every other archive entry.

Written last by the builder and checked by ``verify``; the format is small,
sorted JSON so that it is itself reproducible and easy to read in CI logs.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable

from model_archiver.errors import IntegrityError

RECORD_VERSION = 1


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
    """Parse RECORD.json; a malformed record is an integrity failure, not a crash."""
    try:
        document = json.loads(raw.decode("utf-8"))
        if document.get("algorithm") != "sha256":
            raise ValueError(f"unsupported digest algorithm {document.get('algorithm')!r}")
        entries = [FileRecord(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in document["files"]]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"MAR-INF/RECORD.json is malformed: {exc}") from None
    return {entry.path: entry for entry in entries}
