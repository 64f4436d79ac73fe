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
from typing import Any, Mapping, Optional, Sequence

from model_archiver.errors import ConversionError, OutputExistsError, UsageError
from model_archiver.layout import MODEL_NAME_PATTERN
from model_archiver.onnx_import.conversion import convert_in_subprocess
from model_archiver.onnx_import.inputs import (
    as_served, feeds_from_test_data, resolve_inputs, verification_feeds, with_input_dims,
)
from model_archiver.onnx_import.loading import check_exists, load_onnx
from model_archiver.onnx_import.passes import sanitize
from model_archiver.onnx_import.signature import build_signature
from model_archiver.onnx_import.support import check_importable
from model_archiver.onnx_import.verify import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    VerificationReport,
    compare,
    presoftmax_probes,
    run_reference,
    with_probes,
)

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
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Path]:
    """Convert for ``build_archive(convert=True)``: archive name -> generated file in ``work_dir``.

    ``signature.json`` is generated only when the user supplied none; theirs is
    read (for input sizes) and never rewritten.
    """
    result = convert(
        Path(onnx_path), model_name=model_name, work_dir=Path(work_dir), user_signature=user_signature,
        input_type=input_type, verify=verify, atol=atol, rtol=rtol, input_shapes=input_shapes,
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
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    test_data: Path | None = None,
) -> ImportResult:
    """Convert ``onnx_path`` and write the checkpoint (and signature) into ``out_dir``.

    All-or-nothing: files appear in ``out_dir`` only once conversion and
    verification succeeded; existing files are replaced only with ``force``.
    """
    out_dir = Path(out_dir)
    _check_model_name(model_name)
    check_exists(Path(onnx_path))
    planned = [*checkpoint_names(model_name), *([] if user_signature else [SIGNATURE_NAME])]
    clashes = [name for name in planned if (out_dir / name).exists()]
    if clashes and not force:
        raise OutputExistsError(f"{out_dir / clashes[0]} already exists (use --force to overwrite)")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-onnx-", dir=out_dir))
    try:
        staged = convert(
            Path(onnx_path), model_name=model_name, work_dir=staging, user_signature=user_signature,
            input_type=input_type, verify=verify, atol=atol, rtol=rtol, input_shapes=input_shapes,
            test_data=test_data,
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
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    test_data: Path | None = None,
) -> ImportResult:
    """The whole pipeline, writing its outputs into ``work_dir`` (created if missing).

    Verification runs both models on several draws (normal, large-magnitude,
    integer-valued with ties) plus the sets in ``test_data``, and compares every
    output and the logits before a final softmax; any disagreement raises.
    """
    _check_model_name(model_name)
    if atol < 0 or rtol < 0:
        raise UsageError(f"tolerances must be non-negative (atol={atol}, rtol={rtol})")
    signature = _read_signature(user_signature) if user_signature else None
    model = load_onnx(onnx_path)
    inputs = resolve_inputs(model, signature, input_shapes)
    draws = (verification_feeds(inputs) + (feeds_from_test_data(test_data, inputs) if test_data else [])) if verify else []
    sanitized, rewrites = sanitize(with_input_dims(model, inputs))
    check_importable(sanitized)
    probes = presoftmax_probes(model, sanitized) if verify else []
    work_dir.mkdir(parents=True, exist_ok=True)
    prefix = work_dir / model_name
    with tempfile.TemporaryDirectory(prefix="onnx-convert-") as scratch:
        converted = convert_in_subprocess(sanitized, prefix, Path(scratch), [f for _, f in draws], probes)
    if len(converted.output_names) != len(model.graph.output):
        raise ConversionError(
            f"the converted model has {len(converted.output_names)} output(s), the ONNX model {len(model.graph.output)}"
        )
    report = _verify(model, draws, probes, converted, atol, rtol) if verify else None
    symbol_name, params_name = checkpoint_names(model_name)
    files = {symbol_name: Path(f"{prefix}-symbol.json"), params_name: Path(f"{prefix}-0000.params")}
    if signature is None:
        observed = converted.outputs[0][: len(converted.output_names)] if converted.outputs else None
        generated = build_signature(model, as_served(inputs, model), converted.output_names, input_type=input_type, observed=observed)
        files[SIGNATURE_NAME] = work_dir / SIGNATURE_NAME
        files[SIGNATURE_NAME].write_text(json.dumps(generated, indent=2) + "\n", "utf-8")
    elif input_type:
        log.warning("--input-type ignored: the model's own signature.json is kept as is")
    return ImportResult(files, rewrites, converted.output_names, converted.aux_params, report)


def _verify(model, draws, probes: list[str], converted, atol: float, rtol: float) -> VerificationReport:
    """Compare every draw's outputs and probes; raise naming the first value and draw that disagree."""
    references, runtime = run_reference(with_probes(model, probes), [feeds for _, feeds in draws])
    names = [o.name for o in model.graph.output] + [f"{p} (before softmax)" for p in probes]
    diffs = []
    for (label, _), expected, actual in zip(draws, references, converted.outputs):
        report = compare(expected, actual, [f"{n} [{label} inputs]" for n in names], runtime=runtime,
                         input_shapes={}, atol=atol, rtol=rtol)
        diffs.extend(report.outputs)
    shapes = {name: list(value.shape) for name, value in draws[0][1].items()}
    report = VerificationReport(runtime, atol, rtol, shapes, diffs)
    wrong = [d for d in diffs if not d.ok]
    if wrong:
        raise ConversionError(
            f"converted model disagrees with the ONNX model on output {wrong[0].name}: max abs diff "
            f"{wrong[0].max_abs:.3g} ({len(wrong)} of {len(diffs)} checks failed; {report.summary()})"
        )
    log.info("verified on %d input draw(s): %s", len(draws), report.summary())
    return report


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
