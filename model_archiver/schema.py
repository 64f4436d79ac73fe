"""Load the JSON Schemas shipped as package data and validate documents with them.

Every violation is returned (not just the first) with its JSON path, so a user
fixes a file in one pass.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """Return the parsed schema ``model_archiver/schemas/<name>.schema.json``."""
    text = resources.files("model_archiver").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def _json_path(error: Any) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_errors(document: Any, name: str) -> list[tuple[str, str]]:
    """Return ``(json_path, message)`` for every way ``document`` breaks schema ``name``.

    Sorted by path so reports are stable from run to run.
    """
    import jsonschema  # ~0.1 s to import: only paid when a document is checked

    validator_cls = jsonschema.validators.validator_for(load_schema(name))
    validator = validator_cls(load_schema(name))
    found = [(_json_path(e), e.message) for e in validator.iter_errors(document)]
    return sorted(found)
