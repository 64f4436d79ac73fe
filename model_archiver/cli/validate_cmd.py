"""``model-archiver validate``: run the build-time checks on a directory, write nothing."""
from __future__ import annotations

from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import UsageError, ValidationFailed


@click.command("validate")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--model-name", help="Model name (default: the single checkpoint prefix in MODEL_DIR).")
@click.option("--handler", required=True, help="Handler as MODULE[:FUNCTION], as given to the build.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB", help="Leave matching files out (repeatable).")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--check-import", is_flag=True, help="Also import the handler in a subprocess, as MMS does.")
@click.option("--check-shapes", is_flag=True, help="Also run MXNet shape inference (needs mxnet).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object listing every problem.")
@handle_errors
def validate(
    model_dir: Path,
    model_name: str | None,
    handler: str,
    excludes: tuple[str, ...],
    strict: bool,
    check_import: bool,
    check_shapes: bool,
    as_json: bool,
) -> None:
    """Check MODEL_DIR's files exactly as a build would, without writing anything.

    Exits 0 when clean (warnings allowed unless --strict), 3 on problems.
    """
    setup_logging(quiet=as_json)
    from model_archiver.validation import failing, validate_directory

    name = model_name or _inferred_name(model_dir, excludes)
    problems = validate_directory(
        model_dir, model_name=name, handler=handler, excludes=excludes,
        check_import=check_import, check_shapes=check_shapes,
    )
    if failing(problems, strict):
        raise ValidationFailed(problems)
    if as_json:
        emit_json({"ok": True, "model_name": name, "problems": [p.to_dict() for p in problems]})
        return
    for problem in problems:
        click.echo(f"{problem.severity}: {problem}", err=True)
    click.echo(f"OK: {model_dir} is valid for model '{name}'" + (f" ({len(problems)} warning(s))" if problems else ""))


def _inferred_name(model_dir: Path, excludes: tuple[str, ...]) -> str:
    """The single checkpoint prefix, so ``--model-name`` can be left out for one checkpoint."""
    from model_archiver.packaging.collect import collect_files
    from model_archiver.validation.model_files import single_prefix

    prefix = single_prefix([f.arcname for f in collect_files(model_dir, excludes=excludes)])
    if prefix is None:
        raise UsageError("--model-name is required: MODEL_DIR has no single checkpoint prefix to infer it from")
    return prefix
