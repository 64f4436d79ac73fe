"""``model-archiver import-onnx``: convert an ONNX file to a verified MXNet checkpoint."""
from __future__ import annotations

from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.onnx_import import DEFAULT_ATOL, DEFAULT_RTOL, import_onnx as run_import


@click.command("import-onnx")
@click.argument("onnx_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model-name", required=True, help="Prefix of the generated NAME-symbol.json / NAME-0000.params.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="Directory to write the checkpoint and signature.json into.")
@click.option("--signature", "user_signature", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Your signature.json: used for input sizes, and no signature is generated.")
@click.option("--input-type", help="input_type of the generated signature (default application/json).")
@click.option("--atol", type=float, default=DEFAULT_ATOL, show_default=True, help="Absolute tolerance of the numeric check.")
@click.option("--rtol", type=float, default=DEFAULT_RTOL, show_default=True, help="Relative tolerance of the numeric check.")
@click.option("--no-verify", is_flag=True, help="Skip running the ONNX and converted models side by side.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="More log lines (-vv for debug).")
@handle_errors
def import_onnx(
    onnx_file: Path, model_name: str, out_dir: Path, user_signature: Path | None, input_type: str | None,
    atol: float, rtol: float, no_verify: bool, force: bool, as_json: bool, quiet: bool, verbose: int,
) -> None:
    """Convert ONNX_FILE into an MXNet checkpoint that MMS serves, checked against onnxruntime.

    The graph is first rewritten into forms MXNet's importer handles; the result
    is run next to the original on random inputs and rejected if they disagree.
    Exit codes: 2 bad arguments, 5 the model cannot be converted or disagrees.
    """
    setup_logging(quiet=quiet or as_json, verbose=verbose)
    result = run_import(
        onnx_file, model_name=model_name, out_dir=out_dir, user_signature=user_signature, input_type=input_type,
        verify=not no_verify, atol=atol, rtol=rtol, force=force,
    )
    if as_json:
        emit_json({"ok": True, **result.to_dict()})
        return
    for name, path in result.files.items():
        click.echo(f"wrote {path}")
    if result.rewrites:
        click.echo(f"graph rewrites: {', '.join(result.rewrites)}")
    click.echo(f"kept {len(result.aux_params)} auxiliary (BatchNorm running) parameter(s)")
    if result.verification:
        click.echo(f"verified: {result.verification.summary()}")
    else:
        click.echo("not verified (--no-verify)")
