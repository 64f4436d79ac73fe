"""``model-archiver build`` (also the bare MMS 1.0.x form): make an archive."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

import click

from model_archiver.cli import quantize_cmd
from model_archiver.cli import build_extras
from model_archiver.cli import optional_deps
from model_archiver.cli import import_onnx_cmd
from model_archiver.cli.limit_options import import_timeout_option
from model_archiver.cli.output import emit_json, handle_errors, setup_logging
from model_archiver.manifest import RUNTIMES
from model_archiver.packaging import compression
from model_archiver.packaging.builder import TGZ_LAYOUTS, build_archive
from model_archiver.packaging.result import ArchiveResult
from model_archiver.packaging.vendor import sdk_files


_EXAMPLES = """
\b
Examples:
  model-archiver --model-name digits --model-path examples/digits/model --handler digits_service:handle
  model-archiver build --model-path examples/digits/model --export-path build/store -f

\b
These are MMS 1.0.x's model-archiver flags (plus extras). --model-name and
--handler default to the folder's single NAME-symbol.json and handler module.
"""


@click.command("build", cls=build_extras.OrderedBuildCommand, epilog=_EXAMPLES)
@click.option("--model-name", help="Archive name; also the checkpoint prefix MMS's MXNet services load.  "
                                   "[default: the model path's single NAME-symbol.json prefix]")
@click.option("--model-path", type=click.Path(file_okay=False, path_type=Path),
              help="Folder with the model files and the handler.")
@click.option("--handler", help="Entry point: module[:function] at the model-path root.  "
                                "[default: the single root module with a 'handle' entry point]")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="python", show_default=True,
              help="Manifest runtime: python = the server's own interpreter; python2/python3 = that command on "
                   "the server's PATH.")
@click.option("--export-path", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Output folder (created if missing).")
@click.option("--archive-format", type=click.Choice(["default", "tgz", "no-archive"]), default="default",
              show_default=True, help="default: NAME.mar; tgz: NAME.tar.gz; no-archive: folder NAME/.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output.")
@click.option("-c", "--convert", is_flag=True, help="Convert the model path's .onnx file to an MXNet checkpoint.")
@click.option("--input-type", metavar="MIME", help="With -c: input_type of the generated signature.json (image "
                                                   "models: image/png or image/jpeg).  [default: application/json]")
@import_onnx_cmd.input_shape_option
@click.option("--model-version", help="manifest model.modelVersion")
@click.option("--description", help="manifest description")
@click.option("--author", help="manifest publisher.author")
@click.option("--email", help="manifest publisher.email")
@click.option("--license", "license_", help="manifest license")
@click.option("--engine", "engine_name", help="manifest engine.engineName (MXNet is filled in for MXNet checkpoints)")
@click.option("--engine-version", help="manifest engine.engineVersion")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB", help="Leave matching files out (repeatable).")
@click.option("--compression", "compression_policy", type=click.Choice(compression.POLICIES), default="auto",
              show_default=True, help="auto stores weights and deflates text.")
@click.option("--tgz-layout", type=click.Choice(TGZ_LAYOUTS), default="root", show_default=True,
              help="tgz only: files at the root (SageMaker) or under NAME/ (MMS).")
@click.option("--vendor-sdk", is_flag=True, help="Copy the service_sdk package into the archive.")
@click.option("--no-validate", is_flag=True, help="Skip the build-time checks.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--check-import", is_flag=True, help="Also import the handler in a subprocess.")
@click.option("--check-shapes", is_flag=True, help="Also run MXNet shape inference (needs MXNet).")
@quantize_cmd.build_options
@build_extras.extra_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing the result.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@import_timeout_option
@handle_errors
def build(
    model_path: Path,
    vendor_sdk: bool,
    no_validate: bool,
    license_: Optional[str],
    as_json: bool,
    quiet: bool,
    verbose: int,
    **options: Any,
) -> None:
    """Build a model archive from a model folder."""
    setup_logging(quiet=quiet or as_json, verbose=verbose)
    options = build_extras.resolve(click.get_current_context(), dict(
        options, model_path=model_path, vendor_sdk=vendor_sdk, no_validate=no_validate, license_=license_))
    model_path, vendor_sdk, no_validate, license_ = (
        options.pop(k) for k in ("model_path", "vendor_sdk", "no_validate", "license_"))
    options["quantize"] = quantize_cmd.pop_build_options(options)
    if options.get("check_shapes") and not no_validate:
        optional_deps.require("mxnet", "--check-shapes")
    with _progress(enabled=not (quiet or as_json) and sys.stderr.isatty()) as on_progress:
        result = build_archive(
            model_path,
            extra_files=sdk_files() if vendor_sdk else None,
            validate=not no_validate,
            license=license_,
            on_progress=on_progress,
            **options,
        )
    if as_json:
        emit_json(result.to_dict())
    elif not quiet:
        click.echo(_summary(result))


def _summary(result: ArchiveResult) -> str:
    return (f"Wrote {result.path} ({_human(result.size)}, {len(result.files)} files) "
            f"in {result.timings.get('total', 0.0):.2f}s")


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


class _progress:
    """A click progress bar on stderr, created on the first byte and only on a terminal."""

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._bar: Any = None
        self._shown = 0

    def __enter__(self) -> Optional[Callable[[int, int], None]]:
        return self._update if self._enabled else None

    def _update(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="Archiving", file=sys.stderr,
                                          show_eta=True, show_percent=True).__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
