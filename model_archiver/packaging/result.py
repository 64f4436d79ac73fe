"""What a build produced, in a form CI scripts can consume (``to_dict``)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from model_archiver.validation.report import Problem


@dataclass(frozen=True)
class ArchivedFile:
    """One archived entry: its record plus how it was compressed."""

    path: str
    sha256: str
    size: int
    compression: str


@dataclass
class ArchiveResult:
    path: Path
    format: str
    manifest: dict[str, Any]
    files: list[ArchivedFile]
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes on disk (for an unarchived directory: the sum of its files)."""
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size

    @cached_property
    def sha256(self) -> str | None:
        """Digest of the archive file, computed on first use (a full extra read).

        None for an unarchived directory, which has no single byte stream.
        """
        if self.path.is_dir():
            return None
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            while chunk := handle.read(4 * 1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "path": str(self.path),
            "format": self.format,
            "size": self.size,
            "sha256": self.sha256,
            "manifest": self.manifest,
            "files": [vars(f).copy() for f in self.files],
            "problems": [p.to_dict() for p in self.problems],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
