"""ONNX file -> MXNet checkpoint + signature, verified: the steps in order.

load and check -> resolve inputs -> sanitize -> check importability -> convert
in a child process (and run the saved checkpoint) -> run the original with an
ONNX runtime -> compare -> write the signature. Nothing is written next to the
ONNX file: :func:`convert_for_build` writes into the builder's work dir,
:func:`import_onnx` into a temp dir that is renamed into ``out_dir`` at the end.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from model_archiver.errors import ConversionError, OutputExistsError, UsageError
from model_archiver.layout import MODEL_NAME_PATTERN
from model_archiver.onnx_import.conversion import convert_in_subprocess
from model_archiver.onnx_import.inputs import resolve_inputs, sample_feeds, with_input_dims
from model_archiver.onnx_import.loading import load_onnx
from model_archiver.onnx_import.passes import sanitize
from model_archiver.onnx_import.signature import build_signature
from model_archiver.onnx_import.support import check_importable
from model_archiver.onnx_import.verify import DEFAULT_ATOL, DEFAULT_RTOL, VerificationReport, compare, run_reference

log = logging.getLogger(__name__)

SIGNATURE_NAME = "signature.json"


@dataclass(frozen=True)
class ImportResult:
    """What an import produced and how it was checked."""

    files: dict[str, Path]
    rewrites: list[str]
    output_names: list[str]
    aux_params: list[str]
    verification: Optional[VerificationReport]

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {name: str(path) for name, path in self.files.items()},
            "rewrites": list(self.rewrites),
            "outputs": list(self.output_names),
            "aux_params": list(self.aux_params),
            "verification": self.verification.to_dict() if self.verification else None,
        }


def checkpoint_names(model_name: str) -> tuple[str, str]:
    """The archive names of the converted symbol and params files."""
    return f"{model_name}-symbol.json", f"{model_name}-0000.params"


def convert_for_build(
    onnx_path: Path,
    *,
    model_name: str,
    work_dir: Path,
    user_signature: Path | None = None,
    input_type: str | None = None,
    verify: bool = True,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> dict[str, Path]:
    """Convert for ``build_archive(convert=True)``: archive name -> generated file in ``work_dir``.

    ``signature.json`` is generated only when the user supplied none; theirs is
    read (for input sizes) and never rewritten.
    """
    result = convert(
        Path(onnx_path), model_name=model_name, work_dir=Path(work_dir), user_signature=user_signature,
        input_type=input_type, verify=verify, atol=atol, rtol=rtol,
    )
    return result.files


def import_onnx(
    onnx_path: Path,
    *,
    model_name: str,
    out_dir: Path = Path("."),
    user_signature: Path | None = None,
    input_type: str | None = None,
    verify: bool = True,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    force: bool = False,
) -> ImportResult:
    """Convert ``onnx_path`` and write the checkpoint (and signature) into ``out_dir``.

    All-or-nothing: files appear in ``out_dir`` only once conversion and
    verification succeeded; existing files are replaced only with ``force``.
    """
    out_dir = Path(out_dir)
    _check_model_name(model_name)
    planned = [*checkpoint_names(model_name), *([] if user_signature else [SIGNATURE_NAME])]
    clashes = [name for name in planned if (out_dir / name).exists()]
    if clashes and not force:
        raise OutputExistsError(f"{out_dir / clashes[0]} already exists (use --force to overwrite)")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-onnx-", dir=out_dir))
    try:
        staged = convert(
            Path(onnx_path), model_name=model_name, work_dir=staging, user_signature=user_signature,
            input_type=input_type, verify=verify, atol=atol, rtol=rtol,
        )
        files = {}
        for name, path in staged.files.items():
            os.replace(path, out_dir / name)
            files[name] = out_dir / name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportResult(files, staged.rewrites, staged.output_names, staged.aux_params, staged.verification)


def convert(
    onnx_path: Path,
    *,
    model_name: str,
    work_dir: Path,
    user_signature: Path | None = None,
    input_type: str | None = None,
    verify: bool = True,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> ImportResult:
    """The whole pipeline, writing its outputs into ``work_dir`` (created if missing)."""
    _check_model_name(model_name)
    if atol < 0 or rtol < 0:
        raise UsageError(f"tolerances must be non-negative (atol={atol}, rtol={rtol})")
    signature = _read_signature(user_signature) if user_signature else None
    model = load_onnx(onnx_path)
    inputs = resolve_inputs(model, signature)
    sanitized, rewrites = sanitize(with_input_dims(model, inputs))
    check_importable(sanitized)
    feeds = sample_feeds(inputs) if verify else None
    work_dir.mkdir(parents=True, exist_ok=True)
    prefix = work_dir / model_name
    with tempfile.TemporaryDirectory(prefix="onnx-convert-") as scratch:
        converted = convert_in_subprocess(sanitized, prefix, Path(scratch), feeds)
    if len(converted.output_names) != len(model.graph.output):
        raise ConversionError(
            f"the converted model has {len(converted.output_names)} output(s), the ONNX model {len(model.graph.output)}"
        )
    report = None
    if feeds is not None:
        reference, runtime = run_reference(model, feeds)
        report = compare(
            reference, converted.outputs, converted.output_names, runtime=runtime,
            input_shapes={k: v.shape for k, v in feeds.items()}, atol=atol, rtol=rtol,
        )
        if not report.ok:
            raise ConversionError(f"converted model disagrees with the ONNX model: {report.summary()}")
        log.info("verified: %s", report.summary())
    symbol_name, params_name = checkpoint_names(model_name)
    files = {symbol_name: Path(f"{prefix}-symbol.json"), params_name: Path(f"{prefix}-0000.params")}
    if signature is None:
        generated = build_signature(
            model, inputs, converted.output_names, input_type=input_type, observed=converted.outputs
        )
        files[SIGNATURE_NAME] = work_dir / SIGNATURE_NAME
        files[SIGNATURE_NAME].write_text(json.dumps(generated, indent=2) + "\n", "utf-8")
    elif input_type:
        log.warning("--input-type ignored: the model's own signature.json is kept as is")
    return ImportResult(files, rewrites, converted.output_names, converted.aux_params, report)


def _check_model_name(model_name: str) -> None:
    if not MODEL_NAME_PATTERN.match(model_name or ""):
        raise UsageError(f"invalid model name {model_name!r}: must match {MODEL_NAME_PATTERN.pattern}")


def _read_signature(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} must hold a JSON object")
    return document
