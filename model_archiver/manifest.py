"""Build and read ``MAR-INF/MANIFEST.json`` in the layout MMS 1.x loads.

Optional keys are left out when unset (as MMS's own tool does) and nothing
time-dependent goes in, so the manifest - and with it the archive - is
reproducible.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from model_archiver.errors import UsageError
from model_archiver.layout import HANDLER_PATTERN, MODEL_NAME_PATTERN
from model_archiver.schema import schema_errors

MAX_MODEL_NAME = 200  # leaves room for ".mar"/".tar.gz" and temp-file affixes within NAME_MAX (255)

RUNTIMES = ("python", "python2", "python3")
FORMAT_VERSION = "1.0"


@dataclass(frozen=True)
class ManifestSpec:
    """What the user says about the model; turned into the manifest document."""

    model_name: str
    handler: str
    runtime: str = "python"
    model_version: str | None = None
    description: str | None = None
    author: str | None = None
    email: str | None = None
    license: str | None = None
    engine_name: str | None = None
    engine_version: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`UsageError` for a name, handler or runtime MMS would refuse.

        The same rules as ``manifest.schema.json`` (a test keeps them equal),
        checked directly so a build does not pay for importing jsonschema.
        """
        if len(self.model_name) > MAX_MODEL_NAME:
            raise UsageError(f"invalid model name: {len(self.model_name)} characters, at most {MAX_MODEL_NAME}")
        if not MODEL_NAME_PATTERN.match(self.model_name):
            raise UsageError(
                f"invalid model name {self.model_name!r}: must match {MODEL_NAME_PATTERN.pattern}"
            )
        if not HANDLER_PATTERN.match(self.handler):
            raise UsageError(f"invalid handler {self.handler!r}: expected module[:function], e.g. service:handle")
        if self.runtime not in RUNTIMES:
            raise UsageError(f"invalid runtime {self.runtime!r}: choose one of {', '.join(RUNTIMES)}")
        if self.model_version is not None and not self.model_version:
            raise UsageError("invalid model version: must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """The manifest as MMS reads it; keys with no value are omitted."""
        model: dict[str, Any] = {"modelName": self.model_name, "handler": self.handler}
        _put(model, "modelVersion", self.model_version)
        _put(model, "description", self.description)
        model["extensions"] = dict(self.extensions)
        doc: dict[str, Any] = {"runtime": self.runtime, "model": model}
        if self.engine_name:
            engine = {"engineName": self.engine_name}
            _put(engine, "engineVersion", self.engine_version)
            doc["engine"] = engine
        if self.author or self.email:
            publisher: dict[str, Any] = {}
            _put(publisher, "author", self.author)
            _put(publisher, "email", self.email)
            doc["publisher"] = publisher
        _put(doc, "description", self.description)
        _put(doc, "license", self.license)
        doc["modelServerVersion"] = FORMAT_VERSION
        doc["implementationVersion"] = FORMAT_VERSION
        doc["specificationVersion"] = FORMAT_VERSION
        return doc


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def dump_manifest(document: dict[str, Any]) -> bytes:
    """Serialise deterministically (sorted keys, fixed indent, trailing newline)."""
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def parse_manifest(raw: bytes) -> dict[str, Any]:
    """Parse (within the JSON limits) and schema-check a manifest read from an archive."""
    from model_archiver.safety.json_members import parse

    try:
        document = parse(raw, "MAR-INF/MANIFEST.json")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    problems = schema_errors(document, "manifest")
    if problems:
        path, message = problems[0]
        raise UsageError(f"MAR-INF/MANIFEST.json: {path}: {message}")
    return document
