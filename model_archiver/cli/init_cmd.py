"""``model-archiver init``: copy a handler scaffold into a model directory."""
from __future__ import annotations

from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.templates import HANDLER, TEMPLATES, copy_template


@click.command("init")
@click.option("--template", "-t", "template", type=click.Choice(list(TEMPLATES)), default="vision",
              show_default=True, help="Which scaffold to copy.")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object listing the files written.")
@handle_errors
def init(template: str, directory: Path, as_json: bool) -> None:
    """Write a handler, a signature.json to edit and a README into DIRECTORY.

    Refuses (writing nothing) if any of those files already exists.
    Templates: vision, mxnet, gluon, custom.
    """
    setup_logging(quiet=as_json)
    written = copy_template(template, directory)
    if as_json:
        emit_json({"ok": True, "template": template, "files": [str(p) for p in written], "handler": HANDLER})
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: add your model files, edit signature.json, then\n"
               f"  model-archiver --model-name NAME --model-path {directory} --handler {HANDLER} --export-path OUT")
