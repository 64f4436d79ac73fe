"""How an archive should be served: its recommended settings, overridden by the command line.

``build`` can record recommended serving settings in the manifest under
``model.extensions.serving`` (``batch_size``, ``max_batch_delay_ms``,
``min_workers``, ``max_workers``, ``response_timeout_s``; all optional).
``serve`` and ``smoke-test`` start from those, so the person who knows the
model chooses them once; a flag given on the command line wins.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from model_archiver.errors import UsageError

DEFAULT_BATCH_SIZE = 1
DEFAULT_MAX_BATCH_DELAY_MS = 100
DEFAULT_WORKERS = 1
DEFAULT_RESPONSE_TIMEOUT_S = 120
_MANIFEST_KEYS = {
    "batch_size": "batch_size",
    "max_batch_delay_ms": "max_batch_delay_ms",
    "min_workers": "workers",
    "max_workers": "max_workers",
    "response_timeout_s": "response_timeout_s",
}


@dataclass(frozen=True)
class ServingSettings:
    """What a model is registered with."""

    batch_size: int = DEFAULT_BATCH_SIZE
    max_batch_delay_ms: int = DEFAULT_MAX_BATCH_DELAY_MS
    workers: int = DEFAULT_WORKERS
    response_timeout_s: int = DEFAULT_RESPONSE_TIMEOUT_S
    max_workers: int | None = None

    def override(self, **flags: int | None) -> "ServingSettings":
        """These settings with every flag that was given (not None) replacing its value."""
        return replace(self, **{key: value for key, value in flags.items() if value is not None})

    def register_options(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`MMSServer.register`."""
        return {"batch_size": self.batch_size, "max_batch_delay": self.max_batch_delay_ms,
                "initial_workers": self.workers, "response_timeout": self.response_timeout_s}


def read_manifest(archive: Path) -> dict[str, Any]:
    """The archive's manifest, read with the project's archive reader (any layout).

    The archive must first pass the safe-entry rule: MMS's own unzip would
    otherwise extract whatever names the archive holds.
    """
    from model_archiver.reading.reader import open_archive

    if not Path(archive).exists():
        raise UsageError(f"archive not found: {archive}")
    with open_archive(archive) as reader:
        reader.check_safe()
        return reader.manifest


def settings_from_manifest(manifest: Mapping[str, Any]) -> ServingSettings:
    """The recommended settings stored in ``model.extensions.serving`` (defaults where absent)."""
    serving = ((manifest.get("model") or {}).get("extensions") or {}).get("serving") or {}
    if not isinstance(serving, Mapping):
        raise UsageError("manifest model.extensions.serving must be an object")
    values: dict[str, Any] = {}
    for key, field_name in _MANIFEST_KEYS.items():
        value = serving.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "max_batch_delay_ms" else 1):
            raise UsageError(f"manifest model.extensions.serving.{key} must be a positive integer, got {value!r}")
        values[field_name] = value
    return ServingSettings(**values)


def model_name_of(manifest: Mapping[str, Any]) -> str:
    """The name MMS registers the archive under."""
    name = (manifest.get("model") or {}).get("modelName")
    if not name:
        raise UsageError("the manifest has no model.modelName")
    return str(name)
