"""Check ``synset.txt``: one label per line, as many as the model has classes.

MMS's vision services zip the output probabilities with these lines; a short
synset raises an IndexError at serving time and a long one mislabels silently.
"""
from __future__ import annotations

from model_archiver.validation.report import Problem, error, warning

SYNSET_NAME = "synset.txt"


def check_synset(raw: bytes, classes: int | None, source_of_count: str) -> list[Problem]:
    """``classes`` is the expected label count (None when nothing determines it)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [error(SYNSET_NAME, f"not UTF-8 text ({exc}); save it as UTF-8", "synset.not-utf8")]
    lines = text.splitlines()
    problems = []
    empty = [number for number, line in enumerate(lines, 1) if not line.strip()]
    if empty:
        shown = ", ".join(str(n) for n in empty[:5]) + (" ..." if len(empty) > 5 else "")
        problems.append(warning(SYNSET_NAME, f"empty line(s) {shown}; every line is one class label",
                                "synset.empty-line"))
    if classes is not None and len(lines) != classes:
        problems.append(error(SYNSET_NAME, f"{len(lines)} labels but {source_of_count} has {classes} classes; "
                                           "write one label per class", "synset.count-mismatch"))
    return problems
