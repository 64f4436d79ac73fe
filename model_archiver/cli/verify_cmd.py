"""``model-archiver verify``: every file against its recorded sha256."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from model_archiver.cli import signature_check
from model_archiver.cli.limit_options import limit_options
from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import IntegrityError
from model_archiver.reading.verify import verify_archive


@click.command("verify")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every finding.")
@signature_check.trust_options
@limit_options
@handle_errors
def verify(archive: Path, as_json: bool, **trust: Any) -> None:
    """Check ARCHIVE (.mar, .tar.gz or folder) against its MAR-INF/RECORD.json.

    With --public-key (or --certificate-chain, or a Sigstore identity) also
    check its signature, MAR-INF/model.sig. Exits 4 on any changed, missing or
    extra file, and on a bad or missing signature.

    \b
    model-archiver verify digits.mar
    model-archiver verify digits.mar --public-key pub.pem
    """
    setup_logging(quiet=as_json)
    report = verify_archive(archive)
    signature = signature_check.check(archive, trust, record_verified=report.ok)
    if as_json:
        emit_json({**report.to_dict(), **({"signature": signature.to_dict()} if signature else {})})
    else:
        for finding in report.findings:
            click.echo(f"{finding.kind}: {finding}", err=True)
        if report.ok:
            click.echo(f"OK: {report.checked} files match {archive}'s RECORD.json")
        signature_check.echo(signature)
    if signature is not None and not signature.ok and report.ok:
        if as_json:
            sys.exit(IntegrityError.exit_code)
        raise IntegrityError(f"{archive}: bad or missing signature")
    if report.ok:
        return
    if as_json:
        sys.exit(IntegrityError.exit_code)
    raise IntegrityError(f"{archive}: {len(report.findings)} problem(s) found")
