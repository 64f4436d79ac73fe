"""Check every file of an archive against the sha256 and size in its RECORD.

One sequential pass over the archive: each entry is hashed as it streams, so
a multi-GiB archive verifies in flat memory. Every problem is reported - a
changed byte, a missing or an extra entry - not just the first.
"""
from __future__ import annotations

import hashlib
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_archiver.layout import RECORD_PATH
from model_archiver.reading.reader import open_archive
from model_archiver.record import FileRecord


@dataclass(frozen=True)
class Finding:
    """One way the archive differs from its record."""

    kind: str  # "digest", "size", "missing", "extra", "corrupt", "no-record"
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class VerifyReport:
    archive: Path
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "archive": str(self.archive),
            "checked": self.checked,
            "findings": [asdict(f) for f in self.findings],
        }


def verify_archive(path: str | Path) -> VerifyReport:
    """Verify ``path``; unreadable archives raise, differences are collected in the report."""
    report = VerifyReport(Path(path))
    with open_archive(path) as reader:
        record = reader.record
        if record is None:
            report.findings.append(Finding("no-record", RECORD_PATH, "archive has no RECORD.json; "
                                           "it was not built by this tool, so nothing can be checked"))
            return report
        seen: set[str] = set()
        for name, handle in reader.iter_files():
            if name == RECORD_PATH:
                continue
            seen.add(name)
            expected = record.get(name)
            if expected is None:
                report.findings.append(Finding("extra", name, "not listed in RECORD.json"))
                continue
            report.checked += 1
            finding = _check(name, handle, expected)
            if finding:
                report.findings.append(finding)
        for name in sorted(set(record) - seen):
            report.findings.append(Finding("missing", name, "listed in RECORD.json but not in the archive"))
    return report


def _check(name: str, handle: Any, expected: FileRecord) -> Finding | None:
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        return Finding("corrupt", name, f"cannot be read back: {exc}")
    if size != expected.size:
        return Finding("size", name, f"size {size} differs from recorded {expected.size}")
    if digest.hexdigest() != expected.sha256:
        return Finding("digest", name, f"sha256 {digest.hexdigest()[:16]}… differs from recorded {expected.sha256[:16]}…")
    return None
