"""Describe an archive: manifest, files, sizes, compression, recorded digests, problems.

Reads only the central directory / headers and the two small ``MAR-INF``
files, plus whatever validation needs (JSON files and params headers), so
inspecting a multi-GiB archive is quick. Every entry that breaks the naming
rule or the limits is an error problem (``inspect`` exits 3).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_archiver.reading.reader import open_archive
from model_archiver.validation.report import Problem, error


@dataclass(frozen=True)
class InspectedFile:
    path: str
    size: int
    compressed_size: int | None
    compression: str
    sha256: str | None


@dataclass
class InspectReport:
    archive: Path
    kind: str
    size: int
    manifest: dict[str, Any]
    files: list[InspectedFile]
    has_record: bool
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "kind": self.kind,
            "size": self.size,
            "manifest": self.manifest,
            "files": [asdict(f) for f in self.files],
            "has_record": self.has_record,
            "problems": [p.to_dict() for p in self.problems],
        }


def inspect_archive(path: str | Path, *, validate: bool = True) -> InspectReport:
    """Inspect ``path``; with ``validate`` the model files inside are checked too."""
    archive = Path(path)
    with open_archive(archive) as reader:
        record = reader.record or {}
        files = [
            InspectedFile(m.name, m.size, m.compressed_size, m.compression, getattr(record.get(m.name), "sha256", None))
            for m in (reader.members()[n] for n in reader.names())
        ]
        problems: list[Problem] = [error(v.name, f"unsafe entry: {v.reason}", "archive.unsafe-entry")
                                   for v in reader.violations]
        if validate:
            from model_archiver.validation import validate_archive

            problems += validate_archive(reader)
        size = sum(f.size for f in files) if archive.is_dir() else archive.stat().st_size
        return InspectReport(archive, reader.kind, size, reader.manifest, files, bool(record), problems)
