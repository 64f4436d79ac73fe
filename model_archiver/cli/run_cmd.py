"""``model-archiver run``: serve inputs through an archive's handler, locally, as MMS would."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, Optional

import click

from model_archiver.cli.limit_options import limit_options, max_input_option
from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.safety import run_inputs
from model_archiver.cli.run_examples import run_stored_examples
from model_archiver.request_examples import DEFAULT_ATOL, DEFAULT_RTOL

BODY_PREVIEW = 2000


def _explain_load_errors(func: Any) -> Any:
    """Name the archive, not the runner's temporary folder, and the extra to install for a missing module."""
    import functools
    import re

    from model_archiver.cli import optional_deps
    from model_archiver.errors import ModelLoadError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ModelLoadError as exc:
            message = re.sub(r"\S*model-archiver-run-[^/\s]+/model\b", f"archive {kwargs['archive']}", str(exc))
            hint = optional_deps.hint_for(message)
            if "signature.json not found" in message:
                hint = "add signature.json to the model folder and rebuild (the build warned: signature.missing)"
            raise ModelLoadError(f"{message}; {hint}" if hint else message) from None

    return wrapper


@click.command("run")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, type=click.Path(path_type=Path),
              help="A request body file; repeat for a batch (content type from the extension). "
                   "Without it: the archive's stored examples, compared with their expected answers.")
@click.option("--batch-size", type=click.IntRange(min=1), help="The server's batch size [default: number of inputs].")
@click.option("--gpu", "gpu_id", type=click.IntRange(min=0), help="GPU id the server would assign.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds allowed for loading and the batch.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every response.")
@click.option("-v", "--verbose", count=True, help="Show the handler's log (-vv: debug).")
@click.option("--rtol", type=click.FloatRange(min=0), default=DEFAULT_RTOL, show_default=True,
              help="Examples: relative tolerance for numbers.")
@click.option("--atol", type=click.FloatRange(min=0), default=DEFAULT_ATOL, show_default=True,
              help="Examples: absolute tolerance for numbers.")
@limit_options
@max_input_option
@handle_errors
@_explain_load_errors
def run(archive: Path, inputs: tuple[Path, ...], batch_size: Optional[int], gpu_id: Optional[int],
        timeout: float, as_json: bool, verbose: int, rtol: float, atol: float) -> None:
    """Load ARCHIVE's handler in a separate process and send the inputs as one batch.

    Prints each request's status and body. Exits 6 when the handler fails to
    load or the model process crashes, 1 when any request did not get a 2xx.
    Without --input, sends the examples stored at build time (--example) and
    exits 1 when an answer differs from the stored --expect.

    \b
    model-archiver run digits.mar --input digit.png
    model-archiver run digits.mar
    """
    from service_sdk.runner import run_archive

    setup_logging(quiet=as_json and not verbose, verbose=verbose)
    run_inputs.check_inputs(inputs)
    run_inputs.check_archive(archive)
    if not inputs:
        if not run_stored_examples(archive, batch_size=batch_size, gpu_id=gpu_id, timeout=timeout,
                                   as_json=as_json, rtol=rtol, atol=atol):
            sys.exit(1)
        return
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
    # result.warnings are already on stderr: the runner logs each one (printing them here doubled them).
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
