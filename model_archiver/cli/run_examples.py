"""``run ARCHIVE`` without ``--input``: send the archive's stored example requests and judge the answers."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from model_archiver.cli.output import emit_json
from model_archiver.errors import UsageError
from model_archiver.reading.reader import open_archive
from model_archiver.request_examples import compare, load_examples


def run_stored_examples(archive: Path, *, batch_size: Optional[int], gpu_id: Optional[int], timeout: float,
                        as_json: bool, rtol: float, atol: float) -> bool:
    """Run every example as one batch; print one verdict per example; True when all answered as expected."""
    from service_sdk.runner import RequestInput, run_archive

    with open_archive(archive) as reader:
        examples = load_examples(reader)
    if not examples:
        raise UsageError(f"{archive} has no stored examples: give --input FILE (or build with --example)")
    requests = [RequestInput(e.body, e.content_type, label=e.name) for e in examples]
    result = run_archive(archive, requests, batch_size=batch_size, gpu_id=gpu_id, timeout=timeout)
    outcomes = [_outcome(e, r, rtol, atol) for e, r in zip(examples, result.responses)]
    ok = result.ok and all(o["verdict"] != "mismatch" for o in outcomes)
    if as_json:
        emit_json({"ok": ok, "model_name": result.model_name, "batch_error": result.batch_error,
                   "rtol": rtol, "atol": atol, "examples": outcomes})
    else:
        for outcome in outcomes:
            detail = f": {outcome['difference']}" if outcome.get("difference") else ""
            click.echo(f"{outcome['name']}: HTTP {outcome['status']} {outcome['verdict']}{detail}")
    return ok


def _outcome(example: Any, response: Any, rtol: float, atol: float) -> dict[str, Any]:
    outcome: dict[str, Any] = {"name": example.name, "status": response.status}
    if not response.ok:
        outcome["verdict"] = "mismatch"
        outcome["difference"] = response.body.decode("utf-8", "replace")[:200]
    elif example.expected is None:
        outcome["verdict"] = "answered (no expected answer stored)"
    else:
        difference = compare(example.expected, response.body, rtol=rtol, atol=atol)
        outcome["verdict"] = "match" if difference is None else "mismatch"
        if difference:
            outcome["difference"] = difference
    return outcome
