"""``model-archiver inspect``: what is in an archive, and what is wrong with it."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from model_archiver.cli import extras_view
from model_archiver.cli.limit_options import limit_options
from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import ValidationFailed
from model_archiver.reading.inspect import InspectReport, inspect_archive


@click.command("inspect", epilog="""
\b
Examples:
  model-archiver inspect build/model-store/digits.mar
  model-archiver inspect model.tar.gz --json --no-validate
""")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-validate", is_flag=True, help="Only list; skip the model checks.")
@limit_options
@handle_errors
def inspect(archive: Path, as_json: bool, no_validate: bool) -> None:
    """Show ARCHIVE's manifest, files, sizes, compression and digests.

    The model files inside are validated as at build time; exits 3 if any
    check fails.
    """
    setup_logging(quiet=as_json)
    report = inspect_archive(archive, validate=not no_validate)
    examples = extras_view.example_summaries(archive)
    if as_json:
        emit_json({**report.to_dict(), "examples": examples})
    else:
        click.echo(_render(report, extras_view.extras_lines(report.manifest, examples, [f.path for f in report.files])))
    errors = [p for p in report.problems if p.is_error]
    if errors:
        if as_json:
            sys.exit(ValidationFailed.exit_code)
        # The problems are already in the listing above; only the verdict is left to say.
        raise ValidationFailed([], message=f"{archive}: {len(errors)} error(s) in the model files")


def _render(report: InspectReport, extras: list[str]) -> str:
    model = report.manifest.get("model", {})
    engine = report.manifest.get("engine", {})
    lines = [
        f"archive:  {report.archive} ({report.kind}, {report.size} bytes)",
        f"model:    {model.get('modelName')}  version {model.get('modelVersion', '-')}",
        f"handler:  {model.get('handler')}  runtime {report.manifest.get('runtime')}",
        f"engine:   {engine.get('engineName', '-')} {engine.get('engineVersion', '')}".rstrip(),
        f"record:   {'MAR-INF/RECORD.json' if report.has_record else 'none (not built by this tool)'}",
        *_quantization_lines(model.get("extensions", {}).get("quantization")),
        *extras,
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


def _quantization_lines(figures: object) -> list[str]:
    """The INT8 gate figures ``build --quantize int8`` recorded in ``model.extensions.quantization``."""
    if not isinstance(figures, dict):
        return []
    gate = (f"int8:     {figures.get('calib_mode')} calibration on {figures.get('calibration_count')} inputs; "
            f"top-1 agreement {figures.get('top1_agreement')}% on {figures.get('eval_count')} held-out, "
            f"max abs diff {figures.get('max_abs_diff')}, mean {figures.get('mean_abs_diff')}")
    lines = [gate]
    if "fp32_accuracy" in figures:
        lines.append(f"          accuracy FP32 {figures['fp32_accuracy']}% vs INT8 {figures.get('int8_accuracy')}%")
    kept = figures.get("fp32_kept") or {}
    lines.append(f"          kept FP32: {', '.join(kept) if kept else 'nothing'}")
    return lines
