"""``model-archiver inspect``: what is in an archive, and what is wrong with it."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import ValidationFailed
from model_archiver.reading.inspect import InspectReport, inspect_archive


@click.command("inspect")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-validate", is_flag=True, help="Only list; skip the model checks.")
@handle_errors
def inspect(archive: Path, as_json: bool, no_validate: bool) -> None:
    """Show ARCHIVE's manifest, files, sizes, compression and digests.

    The model files inside are validated as at build time; exits 3 if any
    check fails.
    """
    setup_logging(quiet=as_json)
    report = inspect_archive(archive, validate=not no_validate)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(_render(report))
    errors = [p for p in report.problems if p.is_error]
    if errors:
        if as_json:
            sys.exit(ValidationFailed.exit_code)
        # The problems are already in the listing above; only the verdict is left to say.
        raise ValidationFailed([], message=f"{archive}: {len(errors)} error(s) in the model files")


def _render(report: InspectReport) -> str:
    model = report.manifest.get("model", {})
    engine = report.manifest.get("engine", {})
    lines = [
        f"archive:  {report.archive} ({report.kind}, {report.size} bytes)",
        f"model:    {model.get('modelName')}  version {model.get('modelVersion', '-')}",
        f"handler:  {model.get('handler')}  runtime {report.manifest.get('runtime')}",
        f"engine:   {engine.get('engineName', '-')} {engine.get('engineVersion', '')}".rstrip(),
        f"record:   {'MAR-INF/RECORD.json' if report.has_record else 'none (not built by this tool)'}",
        "",
        f"{'size':>12}  {'stored':>12}  {'method':<8} {'sha256':<12}  path",
    ]
    for f in report.files:
        stored = "-" if f.compressed_size is None else str(f.compressed_size)
        lines.append(f"{f.size:>12}  {stored:>12}  {f.compression:<8} {(f.sha256 or '-')[:12]:<12}  {f.path}")
    lines.append("")
    lines.append("problems: none" if not report.problems else f"problems: {len(report.problems)}")
    lines.extend(f"  {p.severity}: {p}" for p in report.problems)
    return "\n".join(lines)
