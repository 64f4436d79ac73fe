"""What ``inspect`` says about the extras: the user's handler behind the bootstrap, ``lib/``, serving, examples."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from model_archiver.errors import UsageError

from model_archiver.layout import SIGNATURE_PATH
from model_archiver.reading.reader import open_archive
from model_archiver.request_examples import load_examples

log = logging.getLogger(__name__)


def example_summaries(archive: Path) -> list[dict[str, Any]]:
    """``name``, ``content_type``, ``size`` and whether an answer is expected, per stored example."""
    with open_archive(archive) as reader:
        try:
            examples = load_examples(reader)
        except UsageError as exc:  # inspect reports what it can; `run` fails on the same index
            log.warning("%s", exc)
            return []
    return [{"name": e.name, "content_type": e.content_type, "size": len(e.body),
             "expected": e.expected is not None} for e in examples]


def extras_lines(manifest: dict[str, Any], examples: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Lines for the text listing (none when the archive uses no extra)."""
    extensions = manifest.get("model", {}).get("extensions", {})
    lines = []
    requirements = extensions.get("requirements")
    if isinstance(requirements, dict):
        from model_archiver.dependencies.bootstrap import describe

        lines.append(f"user handler: {describe(requirements)}")
    serving = extensions.get("serving")
    if isinstance(serving, dict) and serving:
        lines.append("serving:  " + ", ".join(f"{k}={v}" for k, v in sorted(serving.items())))
    if SIGNATURE_PATH in names:
        lines.append(f"signed:   {SIGNATURE_PATH} (check with: model-archiver verify ARCHIVE --public-key PUB.pem)")
    for example in examples:
        expected = ", expects an answer" if example["expected"] else ""
        lines.append(f"example:  {example['name']} ({example['content_type']}, {example['size']} bytes{expected})")
    return lines
