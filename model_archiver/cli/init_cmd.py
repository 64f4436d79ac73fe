"""``model-archiver init``: copy a handler scaffold into a model directory."""
from __future__ import annotations

from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.templates import HANDLER, TEMPLATES, copy_template

EXAMPLES = """
\b
Examples:
  model-archiver init my-model/
  model-archiver init --template custom --force my-service/
"""


@click.command("init", epilog=EXAMPLES)
@click.option("--template", "-t", "template", type=click.Choice(list(TEMPLATES)), default="vision",
              show_default=True, help="Which scaffold to copy.")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("-f", "--force", is_flag=True, help="Replace the template's files if they exist (others are kept).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object listing the files written.")
@handle_errors
def init(template: str, directory: Path, force: bool, as_json: bool) -> None:
    """Write a handler, a signature.json to edit, a sample request and a README into DIRECTORY.

    Refuses (writing nothing) if any of those files already exists, unless
    --force. Templates: vision, mxnet, gluon, custom. The README's steps,
    run in DIRECTORY once your model is there, end in a 200.
    """
    setup_logging(quiet=as_json)
    written = copy_template(template, directory, force=force)
    if as_json:
        emit_json({"ok": True, "template": template, "files": [str(p) for p in written], "handler": HANDLER})
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: put your model files in {directory}, replace the placeholders in signature.json, "
               f"and follow {directory / 'README-service.md'}")
