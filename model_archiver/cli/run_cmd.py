"""``model-archiver run``: serve inputs through an archive's handler, locally, as MMS would."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, Optional

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging

BODY_PREVIEW = 2000


@click.command("run")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A request body file; repeat for a batch (content type from the extension).")
@click.option("--batch-size", type=click.IntRange(min=1), help="The server's batch size [default: number of inputs].")
@click.option("--gpu", "gpu_id", type=click.IntRange(min=0), help="GPU id the server would assign.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds allowed for loading and the batch.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every response.")
@click.option("-v", "--verbose", count=True, help="Show the handler's log (-vv: debug).")
@handle_errors
def run(archive: Path, inputs: tuple[Path, ...], batch_size: Optional[int], gpu_id: Optional[int],
        timeout: float, as_json: bool, verbose: int) -> None:
    """Load ARCHIVE's handler in a separate process and send the inputs as one batch.

    Prints each request's status and body. Exits 6 when the handler fails to
    load or the model process crashes, 1 when any request did not get a 2xx.
    """
    from service_sdk.runner import run_archive

    setup_logging(quiet=as_json and not verbose, verbose=verbose)
    result = run_archive(archive, list(inputs), batch_size=batch_size, gpu_id=gpu_id, timeout=timeout)
    if as_json:
        emit_json(_document(result, inputs))
    else:
        _print(result, inputs)
    if not result.ok:
        if not as_json:
            failed = sum(not r.ok for r in result.responses)
            click.echo(f"model-archiver: error: {failed} of {len(result.responses)} request(s) failed", err=True)
        sys.exit(1)


def _body_value(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}
    try:
        return {"body": json.loads(text)}
    except json.JSONDecodeError:
        return {"body_text": text}


def _document(result: Any, inputs: tuple[Path, ...]) -> dict[str, Any]:
    responses = []
    for path, response in zip(inputs, result.responses):
        entry = {"input": str(path), "status": response.status, "phrase": response.phrase,
                 "content_type": response.content_type}
        entry.update(_body_value(response.body))
        responses.append(entry)
    return {"ok": result.ok, "model_name": result.model_name, "handler": result.handler,
            "batch_error": result.batch_error, "warnings": result.warnings,
            "load_seconds": round(result.load_seconds, 3), "predict_seconds": round(result.predict_seconds, 3),
            "responses": responses}


def _print(result: Any, inputs: tuple[Path, ...]) -> None:
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.batch_error:
        click.echo(f"the handler failed the whole batch: {result.batch_error}", err=True)
    for index, (path, response) in enumerate(zip(inputs, result.responses)):
        click.echo(f"[{index}] {path}: {response.status} {response.phrase or ''}".rstrip())
        click.echo(_preview(response.body))


def _preview(body: bytes) -> str:
    value = _body_value(body)
    if "body" in value:
        text = json.dumps(value["body"], sort_keys=False)
    elif "body_text" in value:
        text = value["body_text"]
    else:
        return f"<{len(body)} bytes of binary data>"
    return text if len(text) <= BODY_PREVIEW else text[:BODY_PREVIEW] + f"... ({len(text)} characters)"
