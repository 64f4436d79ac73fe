"""Check every file of an archive against the sha256 and size in its RECORD.

One sequential pass over the archive: each entry is hashed as it streams, so
a multi-GiB archive verifies in flat memory (a ``.tar.gz`` is listed and
hashed in the same pass). Every problem is reported - a changed byte, a
missing or an extra entry, an unsafe entry - not just the first. An archive
with unsafe entries (``../x``, links, duplicates...) fails whatever its
RECORD says: ``verify`` proves the archive is what was built, and nothing
else may be in it.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from model_archiver.errors import IntegrityError
from model_archiver.layout import RECORD_PATH, SIGNATURE_PATH, SIGNATURE_PATH
from model_archiver.reading.reader import open_archive
from model_archiver.record import FileRecord, parse_record
from model_archiver.safety.json_members import JSONLimitError, read_member

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """One way the archive differs from its record."""

    kind: str  # "digest", "size", "missing", "extra", "corrupt", "unsafe", "no-record"
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
        scanned: dict[str, tuple[int, str] | Finding] = {}
        records: dict[str, bytes] = {}
        for name, handle in reader.scan_files():
            if name.endswith(RECORD_PATH):  # the tar layout prefix is only known once the scan is done
                records[name] = _read_record(handle)
                scanned[name] = (len(records[name]), hashlib.sha256(records[name]).hexdigest())
            else:
                scanned[name] = _digest(name, handle)
        report.findings += [Finding("unsafe", v.name, v.reason) for v in reader.violations]
        digests = {reader.short_name(k): v for k, v in scanned.items()}
        record_raw = next((raw for k, raw in records.items() if reader.short_name(k) == RECORD_PATH), None)
        digests.pop(RECORD_PATH, None)
        digests.pop(SIGNATURE_PATH, None)  # signs RECORD.json so RECORD cannot list it; `verify --public-key` checks it
        if record_raw is None:
            report.findings.append(Finding("no-record", RECORD_PATH, "archive has no RECORD.json; "
                                           "it was not built by this tool, so nothing can be checked"))
            return report
        _compare(report, parse_record(record_raw), digests)
    return report


def _read_record(handle: BinaryIO) -> bytes:
    try:
        return read_member(handle, RECORD_PATH)
    except JSONLimitError as exc:
        raise IntegrityError(str(exc)) from None


def _compare(report: VerifyReport, record: dict[str, FileRecord], digests: dict[str, tuple[int, str] | Finding]) -> None:
    for name, found in digests.items():
        expected = record.get(name)
        if expected is None:
            report.findings.append(Finding("extra", name, "not listed in RECORD.json"))
            continue
        report.checked += 1
        finding = found if isinstance(found, Finding) else _difference(name, found, expected)
        if finding:
            report.findings.append(Finding(finding.kind, name, finding.message))
    for name in sorted(set(record) - set(digests)):
        report.findings.append(Finding("missing", name, "listed in RECORD.json but not in the archive"))


def _digest(name: str, handle: BinaryIO) -> tuple[int, str] | Finding:
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    except IntegrityError as exc:
        if type(exc) is not IntegrityError:  # a limit: the archive is hostile, stop here
            raise
        return Finding("corrupt", name, f"cannot be read back: {exc}")
    return size, digest.hexdigest()


def _difference(name: str, found: tuple[int, str], expected: FileRecord) -> Finding | None:
    size, sha = found
    if size != expected.size:
        return Finding("size", name, f"size {size} differs from recorded {expected.size}")
    if sha != expected.sha256:
        return Finding("digest", name, f"sha256 {sha[:16]}… differs from recorded {expected.sha256[:16]}…")
    return None
