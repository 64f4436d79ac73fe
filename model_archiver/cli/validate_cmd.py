"""``model-archiver validate``: run the build-time checks on a directory, write nothing."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from model_archiver.cli import optional_deps
from model_archiver.cli.limit_options import import_timeout_option
from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import UsageError, ValidationFailed
from model_archiver.packaging import folder_defaults

EXAMPLES = """
\b
Examples:
  model-archiver validate examples/digits/model
  model-archiver validate my-model --handler service:handle --strict --check-import
"""


@click.command("validate", epilog=EXAMPLES)
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--model-name", help="Model name  [default: the single NAME-symbol.json prefix in MODEL_DIR]")
@click.option("--handler", help="Handler as MODULE[:FUNCTION], as given to the build  "
                                "[default: the single root module with a 'handle' entry point]")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB", help="Leave matching files out (repeatable).")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--check-import", is_flag=True, help="Also import the handler in a subprocess, as MMS does.")
@click.option("--check-shapes", is_flag=True, help="Also run MXNet shape inference (needs the [mxnet] extra).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object listing every problem.")
@import_timeout_option
@handle_errors
def validate(
    model_dir: Path,
    model_name: Optional[str],
    handler: Optional[str],
    excludes: tuple[str, ...],
    strict: bool,
    check_import: bool,
    check_shapes: bool,
    as_json: bool,
) -> None:
    """Check MODEL_DIR's files exactly as a build would, without writing anything.

    --model-name and --handler default to what the folder holds (one
    checkpoint prefix, one handler module); the values taken are printed.
    Exits 0 when clean (warnings allowed unless --strict), 3 on problems,
    2 on bad arguments.
    """
    setup_logging(quiet=as_json)
    from model_archiver.validation import failing, validate_directory

    folder_defaults.check_model_path(model_dir)
    resolved = folder_defaults.resolve(model_dir, model_name, handler, excludes)
    note = resolved.note(model_dir)
    if note and not as_json:
        click.echo(note, err=True)
    hint = folder_defaults.handler_hint(model_dir, resolved.handler)
    if hint:
        raise UsageError(f"handler '{resolved.handler}': {hint}")
    if check_shapes:
        optional_deps.require("mxnet", "--check-shapes")
    problems = validate_directory(
        model_dir, model_name=resolved.model_name, handler=resolved.handler, excludes=excludes,
        check_import=check_import, check_shapes=check_shapes,
    )
    if failing(problems, strict):
        raise ValidationFailed(problems)
    if as_json:
        emit_json({"ok": True, "model_name": resolved.model_name, "problems": [p.to_dict() for p in problems]})
        return
    for problem in problems:
        click.echo(f"{problem.severity}: {problem}", err=True)
    click.echo(f"OK: {model_dir} is valid for model '{resolved.model_name}'"
               + (f" ({len(problems)} warning(s))" if problems else ""))

