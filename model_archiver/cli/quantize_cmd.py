"""``model-archiver quantize``: an INT8 copy of a model folder, gated on held-out accuracy."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.quantization.options import (
    CALIB_MODES, DEFAULT_CALIB_COUNT, DEFAULT_MAX_ACCURACY_DROP, DEFAULT_MIN_AGREEMENT, QuantizeOptions,
)

EXAMPLES = """\b
Examples:
  python examples/digits/make_inputs.py build/digits-inputs
  model-archiver quantize examples/digits/model --handler digits_service:handle \\
      --calibration build/digits-inputs --out build/digits-int8
  model-archiver build --model-name digits --model-path examples/digits/model \\
      --handler digits_service:handle --quantize int8 --calibration build/digits-inputs
"""


def quantize_options(func):  # type: ignore[no-untyped-def]
    """The calibration and gate options, shared with ``build --quantize int8``."""
    options = [
        click.option("--calibration", type=click.Path(exists=True, path_type=Path),
                     help="Folder of images (flat, one folder per class, or with labels.csv or labels.json) or a .npy of "
                          "input tensors shaped (N, ...item shape)."),
        click.option("--calib-mode", type=click.Choice(CALIB_MODES), default="naive", show_default=True,
                     help="naive: min/max ranges; entropy: KL-divergence thresholds (slower)."),
        click.option("--calib-count", type=click.IntRange(min=1), default=DEFAULT_CALIB_COUNT, show_default=True,
                     help="Calibration inputs used at most."),
        click.option("--exclude-layers", "exclude_layers", multiple=True, metavar="PATTERN",
                     help="Keep matching layers FP32 (glob on fused or original layer names; repeatable)."),
        click.option("--no-default-exclusions", is_flag=True,
                     help="Also quantize the first convolution and the last dense layer."),
        click.option("--eval", "eval_path", type=click.Path(exists=True, path_type=Path),
                     help="Held-out inputs for the accuracy gate (same forms as --calibration)  "
                          "[default: 20% of the calibration set, held out]"),
        click.option("--min-agreement", type=float, default=DEFAULT_MIN_AGREEMENT, show_default=True,
                     help="Fail (exit 3) below this FP32/INT8 top-1 agreement, in percent."),
        click.option("--max-accuracy-drop", type=float, default=DEFAULT_MAX_ACCURACY_DROP, show_default=True,
                     help="Fail (exit 3) when labelled accuracy drops more than this, in points."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def options_from(calibration: Optional[Path], calib_mode: str, calib_count: int, exclude_layers: tuple[str, ...],
                 no_default_exclusions: bool, eval_path: Optional[Path], min_agreement: float,
                 max_accuracy_drop: float) -> QuantizeOptions:
    """The library options from the CLI values (``calibration`` must be set)."""
    return QuantizeOptions(calibration=calibration, calib_mode=calib_mode, calib_count=calib_count,
                           exclude_layers=tuple(exclude_layers), default_exclusions=not no_default_exclusions,
                           eval_path=eval_path, min_agreement=min_agreement, max_accuracy_drop=max_accuracy_drop)


@click.command("quantize", epilog=EXAMPLES)
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@quantize_options
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder to write the INT8 model folder into (must not exist unless -f).")
@click.option("--model-name", help="Checkpoint prefix  [default: the folder's only *-symbol.json]")
@click.option("--handler", metavar="MODULE[:FUNC]",
              help="The vision handler whose preprocessing decodes images  [default: MXNetVisionService's]")
@click.option("-f", "--force", is_flag=True, help="Replace an existing --out folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="More log lines (-vv for debug).")
@handle_errors
def quantize(model_dir: Path, out_dir: Path, model_name: Optional[str], handler: Optional[str], force: bool,
             as_json: bool, quiet: bool, verbose: int, calibration: Optional[Path], **gate_options: object) -> None:
    """Quantize MODEL_DIR's MXNet checkpoint to INT8 (oneDNN) into --out, checked against FP32.

    The first convolution, the last dense layer and softmax stay FP32 unless
    told otherwise; layers that cannot be quantized are refused by name.
    Exit codes: 2 bad arguments, 3 the accuracy gate failed (nothing is
    written), 5 MXNet cannot quantize the graph.
    """
    from model_archiver.errors import UsageError
    from model_archiver.quantization import quantize_model_dir

    setup_logging(quiet=quiet or as_json, verbose=verbose)
    if calibration is None:
        raise UsageError("--calibration is required: a folder of images or a .npy of input tensors")
    options = options_from(calibration, **gate_options)  # type: ignore[arg-type]
    result = quantize_model_dir(model_dir, out_dir, options, model_name=model_name, handler=handler, force=force)
    if as_json:
        emit_json({"ok": True, "path": str(result.path), "files": result.files, "quantization": result.report})
        return
    click.echo(f"wrote {result.path} ({len(result.files)} files)")
    click.echo(f"kept FP32: {describe_kept(result.report)}")
    click.echo(f"gate passed: {describe_figures(result.report)}")


def describe_kept(report: dict) -> str:
    kept = report.get("fp32_kept", {})
    return ", ".join(f"{name} ({why})" for name, why in kept.items()) or "nothing"


def describe_figures(report: dict) -> str:
    text = (f"top-1 agreement {report['top1_agreement']:.2f}% on {report['eval_count']} held-out inputs, "
            f"max abs diff {report['max_abs_diff']:.4g}, mean {report['mean_abs_diff']:.4g}")
    if "fp32_accuracy" in report:
        text += f", accuracy FP32 {report['fp32_accuracy']:.2f}% / INT8 {report['int8_accuracy']:.2f}%"
    return text


def build_options(func):  # type: ignore[no-untyped-def]
    """``build --quantize int8`` plus the calibration and gate options."""
    func = quantize_options(func)
    return click.option("--quantize", "quantize_dtype", type=click.Choice(["int8"]),
                        help="Archive an INT8 (oneDNN) checkpoint instead of FP32, after the accuracy gate; "
                             "needs --calibration (see model-archiver quantize --help).")(func)


def pop_build_options(options: dict) -> Optional[QuantizeOptions]:
    """Take the quantization values out of ``build``'s options; None without ``--quantize``."""
    from model_archiver.errors import UsageError

    dtype = options.pop("quantize_dtype")
    values = {name: options.pop(name) for name in ("calibration", "calib_mode", "calib_count", "exclude_layers",
                                                   "no_default_exclusions", "eval_path", "min_agreement",
                                                   "max_accuracy_drop")}
    if dtype is None:
        if values["calibration"] is not None or values["eval_path"] is not None:
            raise UsageError("--calibration/--eval only apply with --quantize int8")
        return None
    if values["calibration"] is None:
        raise UsageError("--quantize int8 needs --calibration: a folder of images or a .npy of input tensors")
    return options_from(**values)
