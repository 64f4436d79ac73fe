"""``model-archiver smoke-test``: an archive in the real server, checked, for CI."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import SmokeTestFailed

EXAMPLES = """
\b
Examples:
  model-archiver smoke-test digits.mar --input 3.png --expect-label 3
  model-archiver smoke-test model.mar          # the requests stored with build --example
  model-archiver smoke-test model.mar --input req.json --expect-json answer.json --json
"""


@click.command("smoke-test", epilog=EXAMPLES)
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, type=click.Path(path_type=Path),
              help="A request body file; repeat for more  [default: the archive's stored examples]")
@click.option("--expect-json", "expect_json", multiple=True, type=click.Path(path_type=Path),
              help="The JSON answer expected (numbers within rtol 1e-3); once for all inputs or once per input.")
@click.option("--expect-regex", help="A regular expression every answer's body must contain.")
@click.option("--expect-label", "expect_labels", multiple=True,
              help="The top class expected (first 'class' of the answer); once for all inputs or once per input.")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="The server's batch size  [default: the archive's serving settings, else 1]")
@click.option("--timeout", "response_timeout", type=click.IntRange(min=1),
              help="Seconds the server allows a prediction  [default: the archive's serving settings, else 120]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
@click.option("-v", "--verbose", count=True, help="Show progress and the library's log.")
@handle_errors
def smoke_test(archive: Path, inputs: tuple[Path, ...], expect_json: tuple[Path, ...], expect_regex: Optional[str],
               expect_labels: tuple[str, ...], batch_size: Optional[int], response_timeout: Optional[int],
               as_json: bool, verbose: int) -> None:
    """Serve ARCHIVE in a fresh Multi Model Server and check its answers.

    Sends the inputs one at a time and all at once, compares every answer
    with the expectation given and with `model-archiver run`'s answer for the
    same input, scales to 2 workers and back. Exits 0 when every check passed,
    8 when one failed (the reason is printed), 7 when the server cannot start.
    """
    from model_archiver.server import smoke

    setup_logging(quiet=as_json and not verbose, verbose=verbose)
    if inputs:
        requests = smoke.inputs_from_files(list(inputs), expect_json=list(expect_json),
                                           expect_labels=list(expect_labels))
    else:
        requests = smoke.inputs_from_examples(archive)
    say = (lambda message: None) if as_json else (lambda message: click.echo(f"... {message}", err=True))
    report = smoke.smoke_test(archive, requests, expect_regex=expect_regex, batch_size=batch_size,
                              response_timeout=response_timeout, progress=say)
    if as_json:
        emit_json(report.to_dict())
        if not report.ok:
            sys.exit(SmokeTestFailed.exit_code)
        return
    for check in report.checks:
        click.echo(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    if not report.ok:
        first = report.failures[0]
        raise SmokeTestFailed(f"smoke test failed at '{first.name}': {first.detail.splitlines()[0]}")
    click.echo(f"smoke test passed: {report.model_name} ({len(requests)} input(s))")
