"""``model-archiver diff``: what changed between two archives."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.reading.diff import DiffReport, diff_archives

DIFFERENT = 1  # like diff(1): 0 same, 1 different, 2 trouble


@click.command("diff")
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def diff(a: Path, b: Path, as_json: bool) -> None:
    """Compare archives A and B: files (by their RECORD digests), manifest, .params headers.

    Nothing is extracted. Exits 0 when they are the same, 1 when they differ
    (like diff), 2 on bad arguments.

    \b
    model-archiver diff old/digits.mar new/digits.mar
    model-archiver diff old/digits.mar new/digits.mar --json
    """
    setup_logging(quiet=as_json)
    report = diff_archives(a, b)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(_render(report))
    if not report.same:
        sys.exit(DIFFERENT)


def _render(report: DiffReport) -> str:
    if report.same:
        return f"same: {report.a} and {report.b} hold the same files and manifest"
    lines = [f"--- {report.a}", f"+++ {report.b}"]
    lines += [f"+ {name}" for name in report.added]
    lines += [f"- {name}" for name in report.removed]
    lines += [f"~ {name}" for name in report.changed]
    for change in report.manifest:
        lines.append(f"manifest {change['key']}: {json.dumps(change['a'])} -> {json.dumps(change['b'])}")
    for params in report.params:
        if params.error:
            lines.append(f"{params.file}: cannot read header: {params.error}")
            continue
        if not (params.added or params.removed or params.changed):
            lines.append(f"{params.file}: same {params.unchanged} names, shapes and dtypes (values changed)")
        lines += [f"{params.file}: + {k} {v[0]} {v[1]}" for k, v in params.added.items()]
        lines += [f"{params.file}: - {k} {v[0]} {v[1]}" for k, v in params.removed.items()]
        lines += [f"{params.file}: ~ {k} {v['a'][0]} {v['a'][1]} -> {v['b'][0]} {v['b'][1]}"
                  for k, v in params.changed.items()]
    return "\n".join(lines)
