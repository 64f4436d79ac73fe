"""Quantize a model folder's checkpoint in a subprocess, then apply the accuracy gate.

:func:`quantize_files` is the one entry point both ``model-archiver quantize``
and ``build --quantize int8`` use: it takes the files about to be archived
(archive name -> path), writes the INT8 checkpoint and its signature into a
work folder, and returns them with the report that goes into the manifest.
Nothing next to the user's files is written, and a gate failure raises
before anything is placed anywhere.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from model_archiver import errors
from model_archiver.errors import ConversionError, UsageError
from model_archiver.quantization import calibration, gate
from model_archiver.quantization.options import QuantizeOptions
from model_archiver.safety.child_process import run_in_group

log = logging.getLogger(__name__)

SYMBOL_SUFFIX = "-symbol.json"
PARAMS = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d{4})\.params$")
REPORT_FILE = "quantization.json"
WORKER_TIMEOUT_S = 3600  # calibrating a large model on CPU takes minutes, never an hour


@dataclass
class Quantization:
    """The INT8 files (archive name -> path in the work folder), the FP32 ones they replace, the report."""

    files: dict[str, Path]
    replaced: list[str]
    report: dict[str, Any] = field(default_factory=dict)


def find_checkpoint(names: Mapping[str, Path], model_name: Optional[str]) -> tuple[str, str, int]:
    """``(symbol arcname, params arcname, epoch)`` of the checkpoint to quantize (latest epoch)."""
    symbols = sorted(n for n in names if "/" not in n and n.endswith(SYMBOL_SUFFIX))
    wanted = f"{model_name}{SYMBOL_SUFFIX}" if model_name else None
    if wanted not in symbols:
        if len(symbols) != 1:
            raise UsageError(f"quantization needs {wanted or 'one *' + SYMBOL_SUFFIX} in the model folder, "
                             f"found {symbols or 'none'}")
        wanted = symbols[0]
    prefix = wanted[: -len(SYMBOL_SUFFIX)]
    epochs = sorted(int(m.group("epoch")) for m in (PARAMS.match(n) for n in names) if m and m.group("prefix") == prefix)
    if not epochs:
        raise UsageError(f"quantization needs {prefix}-NNNN.params next to {wanted}")
    return wanted, f"{prefix}-{epochs[-1]:04d}.params", epochs[-1]


def quantize_files(names: Mapping[str, Path], *, model_name: Optional[str], handler: Optional[str],
                   model_dir: Path, options: QuantizeOptions, work_dir: Path) -> Quantization:
    """Quantize the checkpoint among ``names``; raise ValidationFailed (exit 3) if the gate fails."""
    options.check()
    symbol, params, epoch = find_checkpoint(names, model_name)
    if "signature.json" not in names:
        raise UsageError("quantization needs signature.json (the input's name and shape) in the model folder")
    prefix = symbol[: -len(SYMBOL_SUFFIX)]
    calib_set, eval_set = _inputs(options)
    work_dir.mkdir(parents=True, exist_ok=True)
    request = {
        "work_dir": str(work_dir), "model_name": prefix, "epoch": epoch, "model_dir": str(model_dir),
        "symbol": str(names[symbol]), "params": str(names[params]), "signature": str(names["signature.json"]),
        "handler": handler, "calibration": calib_set.to_dict(), "eval": eval_set.to_dict(),
        "calib_mode": options.calib_mode, "exclude_layers": list(options.exclude_layers),
        "default_exclusions": options.default_exclusions,
    }
    outcome = _run_worker(request, work_dir)
    import numpy as np  # lazily: `build` without --quantize never needs it

    fp32, int8 = np.load(work_dir / "fp32.npy"), np.load(work_dir / "int8.npy")
    classes = _classes(names, int(fp32.reshape(len(fp32), -1).shape[1]))
    labels = None if eval_set.labels is None else calibration.label_indices(eval_set.labels, classes)
    figures = gate.measure(fp32, int8, labels)
    log.info("INT8 gate: %s", figures.summary())
    gate.check(figures, options.min_agreement, options.max_accuracy_drop)
    generated = {symbol: work_dir / symbol, f"{prefix}-{epoch:04d}.params": work_dir / f"{prefix}-{epoch:04d}.params",
                 "signature.json": work_dir / "signature.json"}
    stale = sorted(n for n in names if (m := PARAMS.match(n)) and m.group("prefix") == prefix)
    report = {"dtype": "int8", "backend": "oneDNN (MXNet contrib.quantization)", "calib_mode": options.calib_mode,
              "calibration_count": outcome["calibration_count"], "eval": _eval_source(options),
              "fp32_kept": outcome["exclusions"], "int8_layers": len(outcome["int8_layers"]),
              "gate": {"min_agreement": options.min_agreement, "max_accuracy_drop": options.max_accuracy_drop},
              "mxnet_version": outcome["mxnet_version"], **figures.to_dict()}
    return Quantization(generated, sorted({symbol, *stale}), report)


def _inputs(options: QuantizeOptions) -> tuple[calibration.InputSet, calibration.InputSet]:
    listed = calibration.list_inputs(options.calibration)
    if options.eval_path is None:
        calib_set, eval_set = calibration.split(listed)
    else:
        calib_set, eval_set = listed, calibration.list_inputs(options.eval_path, "--eval")
    return calib_set.take(range(min(options.calib_count, len(calib_set)))), eval_set


def _eval_source(options: QuantizeOptions) -> str:
    if options.eval_path is None:
        return f"{int(calibration.HELD_OUT_FRACTION * 100)}% of the calibration set, held out"
    return options.eval_path.name


def _classes(names: Mapping[str, Path], count: int) -> list[str]:
    """Class names the labels may use: ``synset.txt`` lines, else the indices."""
    synset = names.get("synset.txt")
    if synset is None:
        return [str(index) for index in range(count)]
    return [line.strip() for line in Path(synset).read_text(encoding="utf-8").splitlines() if line.strip()]


def _run_worker(request: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    """Run the worker; map its reported error to the same error class, a crash to ConversionError."""
    request_file = work_dir / "request.json"
    request_file.write_text(json.dumps(request), encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # The worker imports the user's handler to decode images: it runs as untrusted code would.
    child = run_in_group([sys.executable, "-m", "model_archiver.quantization.worker", str(request_file)],
                         cwd=Path.cwd(), env=env, timeout=WORKER_TIMEOUT_S, scratch=work_dir / "child")
    if child.timed_out:
        raise ConversionError(f"the quantization worker did not finish in {WORKER_TIMEOUT_S} s")
    result_file = work_dir / "result.json"
    if child.returncode != 0 or not result_file.exists():
        raise ConversionError(f"the quantization worker {_death(child.returncode)}: {_last_line(child.stderr)}")
    try:
        outcome = json.loads(result_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        outcome = None
    if not isinstance(outcome, dict) or "message" not in outcome and not outcome.get("ok"):
        raise ConversionError("the quantization worker left an unreadable result")
    if not outcome.get("ok"):
        error_class = getattr(errors, outcome.get("error_type", ""), ConversionError)
        if not (isinstance(error_class, type) and issubclass(error_class, errors.ArchiverError)):
            error_class = ConversionError
        if issubclass(error_class, errors.ValidationFailed):
            raise error_class([], message=outcome["message"])
        raise error_class(outcome["message"])
    return outcome


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name} (MXNet aborted)"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
