"""Compare two archives: files, manifest, and MXNet parameters, without extracting either.

Files are compared by the sha256 in each ``MAR-INF/RECORD.json`` (archives
built by other tools have none: their members are hashed as they stream).
The manifest is compared key by key. For ``.params`` files present in both
archives and changed, only the headers are read (as validation does) to list
the parameters whose name, shape or dtype changed - "the weights were
retrained" versus "the architecture changed" at a glance.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_archiver.layout import RECORD_PATH, SIGNATURE_PATH
from model_archiver.reading.reader import ArchiveReader, open_archive

# Entries that change whenever anything changes; their own changes say nothing new.
_DERIVED = {RECORD_PATH, SIGNATURE_PATH}
_MISSING = "<absent>"


@dataclass
class ParamsChange:
    """How one ``.params`` file's arrays changed: by name, ``[shape, dtype]`` before and after."""

    file: str
    added: dict[str, list[Any]] = field(default_factory=dict)
    removed: dict[str, list[Any]] = field(default_factory=dict)
    changed: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    unchanged: int = 0
    error: str | None = None


@dataclass
class DiffReport:
    a: Path
    b: Path
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    manifest: list[dict[str, Any]] = field(default_factory=list)
    params: list[ParamsChange] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.manifest)

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "a": str(self.a), "b": str(self.b), "added": self.added,
                "removed": self.removed, "changed": self.changed, "manifest": self.manifest,
                "params": [asdict(p) for p in self.params]}


def diff_archives(a: str | Path, b: str | Path) -> DiffReport:
    """What differs between archives ``a`` and ``b`` (each a .mar, .tar.gz or folder)."""
    report = DiffReport(Path(a), Path(b))
    with open_archive(a) as left, open_archive(b) as right:
        old, new = _digests(left), _digests(right)
        report.added = sorted(set(new) - set(old))
        report.removed = sorted(set(old) - set(new))
        report.changed = sorted(n for n in set(old) & set(new) if old[n] != new[n])
        report.manifest = _manifest_changes(left.manifest, right.manifest)
        report.params = [_params_change(left, right, n) for n in report.changed if n.endswith(".params")]
    return report


def _digests(reader: ArchiveReader) -> dict[str, str]:
    """``name -> sha256`` from RECORD (manifest included), else by hashing each member."""
    record = reader.record
    if record is not None:
        return {name: entry.sha256 for name, entry in record.items() if name not in _DERIVED}
    digests = {}
    for name, handle in reader.iter_files():
        if name in _DERIVED:
            continue
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
        digests[name] = digest.hexdigest()
    return digests


def _manifest_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    before, after = _flatten(old), _flatten(new)
    return [{"key": key, "a": before.get(key, _MISSING), "b": after.get(key, _MISSING)}
            for key in sorted(set(before) | set(after)) if before.get(key, _MISSING) != after.get(key, _MISSING)]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _params_change(left: ArchiveReader, right: ArchiveReader, name: str) -> ParamsChange:
    from model_archiver.validation.params_format import ParamsFormatError

    change = ParamsChange(name)
    try:
        old, new = _arrays(left, name), _arrays(right, name)
    except ParamsFormatError as exc:
        change.error = str(exc)
        return change
    change.added = {k: new[k] for k in sorted(set(new) - set(old))}
    change.removed = {k: old[k] for k in sorted(set(old) - set(new))}
    for key in sorted(set(old) & set(new)):
        if old[key] != new[key]:
            change.changed[key] = {"a": old[key], "b": new[key]}
        else:
            change.unchanged += 1
    return change


def _arrays(reader: ArchiveReader, name: str) -> dict[str, list[Any]]:
    from model_archiver.validation.params_format import read_params_header

    with reader.open(name) as stream:
        header = read_params_header(stream, reader.size(name))
    return {key: [list(a.shape) if a.shape is not None else None, a.dtype] for key, a in header.by_name().items()}
