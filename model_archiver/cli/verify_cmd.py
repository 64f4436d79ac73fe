"""``model-archiver verify``: every file against its recorded sha256."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import IntegrityError
from model_archiver.reading.verify import verify_archive


@click.command("verify")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every finding.")
@handle_errors
def verify(archive: Path, as_json: bool) -> None:
    """Check ARCHIVE (.mar, .tar.gz or folder) against its MAR-INF/RECORD.json.

    Exits 4 on any changed, missing or extra file.
    """
    setup_logging(quiet=as_json)
    report = verify_archive(archive)
    if as_json:
        emit_json(report.to_dict())
    else:
        for finding in report.findings:
            click.echo(f"{finding.kind}: {finding}", err=True)
        if report.ok:
            click.echo(f"OK: {report.checked} files match {archive}'s RECORD.json")
    if report.ok:
        return
    if as_json:
        sys.exit(IntegrityError.exit_code)
    raise IntegrityError(f"{archive}: {len(report.findings)} problem(s) found")
