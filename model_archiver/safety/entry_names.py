"""The one rule for safe entry names, used by every command that writes or reads archives.

A name is safe when every extractor on every platform puts it inside the
target folder under the same name: relative, ``/``-separated, UTF-8, no ``..``,
``.`` or empty parts, no backslash, no drive letter, no control characters and
parts short enough for common file systems. A set of entries is safe when no
name repeats and no name is both a file and a folder. ``build`` refuses what
``run`` would refuse, so nothing the tool writes is ever rejected by itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

MAX_PART_BYTES = 255  # NAME_MAX on Linux, macOS and Windows
MAX_NAME_BYTES = 4096  # PATH_MAX on Linux
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The common case, decided by one regex: ASCII parts that cannot be "", "." or ".." (no leading dot).
_PART = r"[A-Za-z0-9_\-+=,@~][A-Za-z0-9_.\-+=,@~ ]{0,254}"
_PLAIN = re.compile(rf"(?:{_PART}/)*{_PART}/?")

FILE = "file"
FOLDER = "folder"


@dataclass(frozen=True)
class Violation:
    """One entry that breaks the rule, and why (the message names the entry)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name!r}: {self.reason}"


def name_problem(name: str | bytes) -> str | None:
    """Why ``name`` is not a safe entry name, or None when it is.

    ``bytes`` are names not yet decoded; ``str`` names may hold surrogate
    escapes (how Python keeps bytes that were not UTF-8), which are refused.
    """
    if isinstance(name, str) and len(name) <= MAX_NAME_BYTES and _PLAIN.fullmatch(name):
        return None
    if isinstance(name, bytes):
        try:
            name = name.decode("utf-8")
        except UnicodeDecodeError:
            return "name is not UTF-8"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not UTF-8"
    if not name:
        return "empty name"
    if len(encoded) > MAX_NAME_BYTES:
        return f"name longer than {MAX_NAME_BYTES} bytes"
    if _CONTROL.search(name):
        return "name contains a control character"
    if "\\" in name:
        return "name contains a backslash"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "name starts with a drive letter"
    return _parts_problem(name.rstrip("/").split("/"))


def _parts_problem(parts: list[str]) -> str | None:
    for part in parts:
        if part == "..":
            return "'..' would leave the target folder"
        if part in ("", "."):
            return "empty or '.' path component"
        if len(part.encode("utf-8")) > MAX_PART_BYTES:
            return f"a path component is longer than {MAX_PART_BYTES} bytes"
    return None


class EntrySet:
    """Collects entries one by one and reports every violation in O(1) per entry (amortised by depth)."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}
        self._implied: set[str] = set()
        self.violations: list[Violation] = []

    def add(self, name: str, kind: str = FILE, special: str | None = None) -> bool:
        """Record one entry; ``special`` says why it cannot be read as a plain file or folder (a symlink...).

        Returns True when the entry itself is safe to read as ``kind``.
        """
        problem = name_problem(name)
        if problem is None and special is not None:
            problem = special
        if problem is not None:
            self.violations.append(Violation(printable(name), problem))
            return False
        key = name.rstrip("/")
        previous = self._kinds.get(key)
        if previous is not None:
            if previous == kind == FOLDER:
                return True
            message = "duplicate entry" if previous == kind else f"both a {previous} and a {kind}"
            self.violations.append(Violation(key, message))
            return False
        self._kinds[key] = kind
        return self._add_parents(key, kind)

    def _add_parents(self, key: str, kind: str) -> bool:
        if kind == FILE and key in self._implied:
            self.violations.append(Violation(key, "both a file and a folder"))
            return False
        parent = key.rpartition("/")[0]
        while parent and parent not in self._implied:
            self._implied.add(parent)
            if self._kinds.get(parent) == FILE:
                self.violations.append(Violation(parent, "both a file and a folder"))
                return False
            parent = parent.rpartition("/")[0]
        return True


def check_entries(entries: Iterable[tuple[str, str]]) -> list[Violation]:
    """Every violation among ``(name, kind)`` pairs (kind: :data:`FILE` or :data:`FOLDER`)."""
    found = EntrySet()
    for name, kind in entries:
        found.add(name, kind)
    return found.violations


def printable(name: str | bytes) -> str:
    """A name fit for a one-line message: bytes that were not UTF-8 shown as ``\\xff``."""
    if isinstance(name, str):
        try:
            name = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that no byte stands for
            name = name.encode("utf-8", "backslashreplace")
    return name.decode("utf-8", "backslashreplace")
