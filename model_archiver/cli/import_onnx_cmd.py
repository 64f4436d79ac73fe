"""``model-archiver import-onnx``: convert an ONNX file to a verified MXNet checkpoint."""
from __future__ import annotations

from pathlib import Path

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.errors import UsageError
from model_archiver import onnx_import
from model_archiver.onnx_import import DEFAULT_ATOL, DEFAULT_RTOL
from model_archiver.onnx_import.inputs import parse_input_shapes

def _input_shapes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]):
    try:
        return parse_input_shapes(values) or None
    except UsageError as exc:  # parsed before handle_errors runs: click's own usage error (exit 2)
        raise click.BadParameter(str(exc)) from None


def input_shape_option(command):
    """``--input-shape NAME=D1,D2,...`` (repeatable), shared by ``import-onnx`` and ``build -c``."""
    return click.option(
        "--input-shape", "input_shapes", multiple=True, metavar="NAME=D1,D2,...", callback=_input_shapes,
        help="Size of an input's symbolic dims, instead of a signature.json (repeatable; the batch stays "
             "symbolic).",
    )(command)


@click.command("import-onnx", epilog="""
\b
Examples:
  model-archiver import-onnx model.onnx --model-name resnet --out model/ --input-type image/jpeg
  model-archiver import-onnx model.onnx --model-name resnet --signature signature.json --json
  model-archiver import-onnx model.onnx --model-name resnet --input-shape data=1,3,224,224 --test-data case/
""")
@click.argument("onnx_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model-name", required=True, help="Prefix of the generated NAME-symbol.json / NAME-0000.params.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="Directory to write the checkpoint and signature.json into.")
@click.option("--signature", "user_signature", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Your signature.json: used for input sizes, and no signature is generated.")
@click.option("--input-type", metavar="MIME", help="input_type of the generated signature (image models: "
                                                   "image/png or image/jpeg).  [default: application/json]")
@input_shape_option
@click.option("--test-data", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Also verify on these inputs: test_data_set_*/input_N.pb, as in ONNX's backend tests.")
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
    input_shapes: dict[str, list[int]] | None, test_data: Path | None, atol: float, rtol: float, no_verify: bool,
    force: bool, as_json: bool, quiet: bool, verbose: int,
) -> None:
    """Convert ONNX_FILE into an MXNet checkpoint that MMS serves, checked against onnxruntime.

    The graph is first rewritten into forms MXNet's importer handles; the result
    is run next to the original on several input draws (normal, large, integer
    ties; plus --test-data) and rejected if any output disagrees.
    Exit codes: 2 bad arguments, 5 the model cannot be converted or disagrees.
    """
    setup_logging(quiet=quiet or as_json, verbose=verbose)
    result = onnx_import.import_onnx(
        onnx_file, model_name=model_name, out_dir=out_dir, user_signature=user_signature, input_type=input_type,
        verify=not no_verify, atol=atol, rtol=rtol, force=force, input_shapes=input_shapes, test_data=test_data,
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
