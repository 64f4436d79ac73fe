"""Example requests stored in an archive, and how an answer is compared to the expected one.

``build --example INPUT [--expect OUTPUT.json]`` stores each request body (and
optionally the answer it should get) under ``MAR-INF/examples/`` with an index
``MAR-INF/examples/index.json``::

    {"examples": [{"name": "kitten", "input": "kitten.jpg",
                   "content_type": "image/jpeg", "expected": "kitten.expected.json"}]}

(``input`` / ``expected`` are relative to ``MAR-INF/examples/``). MMS ignores
``MAR-INF/``; ``run`` and whatever checks an archive in a server read the
examples through :func:`load_examples` and judge answers with :func:`compare`,
so "what does this model answer" is written down once, next to the model.
"""
from __future__ import annotations

import json
import math
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Sequence

from model_archiver.errors import UsageError
from model_archiver.layout import MAR_INF
from model_archiver.sources import FileSource

EXAMPLES_DIR = f"{MAR_INF}/examples"
INDEX_PATH = f"{EXAMPLES_DIR}/index.json"
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-5
_OCTET = "application/octet-stream"
# Content types that MMS (and the local runner) hand to the handler as text/JSON.
_EXTRA_TYPES = {".json": "application/json", ".txt": "text/plain", ".npy": _OCTET}


@dataclass(frozen=True)
class RequestExample:
    """One stored request: its body, how it is sent, and (optionally) the answer expected."""

    name: str
    body: bytes
    content_type: str
    expected: Any | None = None


@dataclass(frozen=True)
class ExampleSpec:
    """An example as given at build time: files on disk."""

    input: Path
    expect: Path | None = None
    content_type: str | None = None


def content_type_for(path: Path) -> str:
    """The MIME type a client would send ``path`` with (by extension)."""
    suffix = path.suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or _OCTET


def example_files(specs: Sequence[ExampleSpec], work_dir: Path) -> dict[str, Path]:
    """``archive name -> path`` for the examples' files plus a generated index in ``work_dir``.

    Expected answers are parsed here so a malformed ``--expect`` fails the
    build instead of the first smoke test.
    """
    if not specs:
        return {}
    files: dict[str, Path] = {}
    index: list[dict[str, Any]] = []
    used: set[str] = set()
    for spec in specs:
        _must_be_file(spec.input, "--example")
        name = _unique(_slug(spec.input.stem), used)
        entry: dict[str, Any] = {
            "name": name,
            "input": f"{name}{spec.input.suffix.lower()}",
            "content_type": spec.content_type or content_type_for(spec.input),
        }
        files[f"{EXAMPLES_DIR}/{entry['input']}"] = spec.input
        if spec.expect is not None:
            _must_be_file(spec.expect, "--expect")
            _parse_expected(spec.expect.read_bytes(), str(spec.expect))
            entry["expected"] = f"{name}.expected.json"
            files[f"{EXAMPLES_DIR}/{entry['expected']}"] = spec.expect
        index.append(entry)
    index_file = Path(work_dir) / "examples-index.json"
    index_file.write_text(json.dumps({"examples": index}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files[INDEX_PATH] = index_file
    return files


def load_examples(reader: FileSource) -> list[RequestExample]:
    """The examples stored in an archive (an empty list when it has none)."""
    names = set(reader.names())
    if INDEX_PATH not in names:
        return []
    index = _parse_expected(_read(reader, INDEX_PATH), INDEX_PATH)
    entries = index.get("examples") if isinstance(index, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{INDEX_PATH}: expected an object with an 'examples' list")
    return [_load_one(reader, names, entry) for entry in entries]


def _load_one(reader: FileSource, names: set[str], entry: Any) -> RequestExample:
    if not isinstance(entry, dict) or not isinstance(entry.get("input"), str):
        raise UsageError(f"{INDEX_PATH}: every example needs an 'input' file name")
    body_name = _member(entry["input"])
    if body_name not in names:
        raise UsageError(f"{INDEX_PATH}: example file {body_name} is missing from the archive")
    expected = None
    if entry.get("expected"):
        expected_name = _member(entry["expected"])
        if expected_name not in names:
            raise UsageError(f"{INDEX_PATH}: expected answer {expected_name} is missing from the archive")
        expected = _parse_expected(_read(reader, expected_name), expected_name)
    return RequestExample(
        name=str(entry.get("name") or PurePosixPath(entry["input"]).stem),
        body=_read(reader, body_name),
        content_type=str(entry.get("content_type") or _OCTET),
        expected=expected,
    )


def compare(expected: Any, actual: Any, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> str | None:
    """``None`` when ``actual`` matches ``expected``, else one line saying where it differs.

    Numbers match within ``atol + rtol * |expected|`` (models differ in the last
    digits across machines); everything else must be equal. ``actual`` may be
    the raw response (bytes or str): it is parsed as JSON unless a string is expected.
    """
    return _compare(expected, _decoded(expected, actual), "$", rtol, atol)


def _decoded(expected: Any, actual: Any) -> Any:
    if isinstance(actual, (bytes, bytearray)):
        try:
            actual = bytes(actual).decode("utf-8")
        except UnicodeDecodeError:
            return actual
    if isinstance(actual, str) and not isinstance(expected, str):
        try:
            return json.loads(actual)
        except json.JSONDecodeError:
            return actual
    return actual


def _compare(expected: Any, actual: Any, where: str, rtol: float, atol: float) -> str | None:
    if _is_number(expected) and _is_number(actual):
        if math.isclose(float(actual), float(expected), rel_tol=rtol, abs_tol=atol):
            return None
        return f"{where}: expected {expected!r}, got {actual!r} (rtol={rtol}, atol={atol})"
    if isinstance(expected, dict) and isinstance(actual, dict):
        return _compare_dicts(expected, actual, where, rtol, atol)
    if isinstance(expected, list) and isinstance(actual, (list, tuple)):
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} items, got {len(actual)}"
        return _first(_compare(e, a, f"{where}[{i}]", rtol, atol) for i, (e, a) in enumerate(zip(expected, actual)))
    if type(expected) is not type(actual) or expected != actual:
        return f"{where}: expected {_short(expected)}, got {_short(actual)}"
    return None


def _compare_dicts(expected: dict, actual: dict, where: str, rtol: float, atol: float) -> str | None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    if missing:
        return f"{where}: missing key {missing[0]!r}"
    if extra:
        return f"{where}: unexpected key {extra[0]!r}"
    return _first(_compare(expected[k], actual[k], f"{where}.{k}", rtol, atol) for k in expected)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _first(messages: Iterable[str | None]) -> str | None:
    return next((m for m in messages if m is not None), None)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_expected(raw: bytes, origin: str) -> Any:
    """JSON from the user's --expect file or an archive member, within the archive JSON limits."""
    from model_archiver.safety.json_members import JSONLimitError, parse

    try:
        return parse(raw, origin)
    except JSONLimitError as exc:
        raise UsageError(str(exc)) from None


def _read(reader: FileSource, name: str) -> bytes:
    """A member, read no further than the input limit (an example is one request, not a bomb)."""
    from model_archiver.safety.limits import active

    limit = active().max_input_bytes
    with reader.open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"{name} is over the {limit}-byte input limit; raise --max-input-bytes if it is genuine")
    return data


def _member(relative: str) -> str:
    """An index entry's file inside ``MAR-INF/examples/``; refuses names that climb out."""
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not relative:
        raise UsageError(f"{INDEX_PATH}: unsafe example file name {relative!r}")
    return f"{EXAMPLES_DIR}/{path.as_posix()}"


def _must_be_file(path: Path, option: str) -> None:
    if not Path(path).is_file():
        raise UsageError(f"{option}: {path} is not a file")


def _slug(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "example"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}-{n}", n + 1
    used.add(candidate)
    return candidate
