"""Run MXNet's importer in a child process and turn its fate into data or one-line errors.

MXNet aborts (SIGABRT) rather than raising on some shapes; in a child that is a
return code, reported as a :class:`ConversionError` instead of a dead CLI.
"""
from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from model_archiver.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from onnx import ModelProto

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("convert_worker.py")
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Converted:
    """What the child reports: the MXNet output names, parameter counts, and per set of
    inputs the outputs followed by the probed values (when run)."""

    output_names: list[str]
    arg_params: int
    aux_params: list[str]
    outputs: list[list["np.ndarray"]]


def convert_in_subprocess(
    sanitized: "ModelProto",
    prefix: Path,
    scratch: Path,
    feed_sets: Sequence[Mapping[str, "np.ndarray"]] = (),
    probes: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> Converted:
    """Import ``sanitized`` with MXNet, save ``PREFIX-symbol.json``/``PREFIX-0000.params``,
    and run the saved checkpoint on each of ``feed_sets``, returning its outputs and
    the values named in ``probes``."""
    import numpy as np
    import onnx

    scratch.mkdir(parents=True, exist_ok=True)
    model_path = scratch / "sanitized.onnx"
    onnx.save(sanitized, str(model_path))
    request = {
        "model": str(model_path),
        "prefix": str(prefix),
        "result": str(scratch / "result.json"),
        "inputs": [str(scratch / f"inputs-{i}.npz") for i in range(len(feed_sets))],
        "outputs": [str(scratch / f"outputs-{i}.npz") for i in range(len(feed_sets))],
        "input_names": list(feed_sets[0]) if feed_sets else [],
        "probes": list(probes),
    }
    for feeds, path in zip(feed_sets, request["inputs"]):
        np.savez(path, **dict(feeds))
    (scratch / "request.json").write_text(json.dumps(request), "utf-8")
    result = _run_worker(scratch / "request.json", Path(request["result"]), timeout)
    outputs = []
    for path in request["outputs"]:
        with np.load(path) as saved:
            outputs.append([saved[f"arr_{i}"] for i in range(len(saved.files))])
    return Converted(result["outputs"], result["arg_params"], result["aux_params"], outputs)


def _run_worker(request: Path, result_path: Path, timeout: float) -> dict:
    command = [sys.executable, str(WORKER), str(request)]
    log.debug("running %s", " ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"MXNet conversion did not finish within {timeout:.0f} s") from None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise ConversionError(f"MXNet crashed ({name}) while importing the model: {_last_line(done.stderr)}")
    if not result_path.is_file():
        raise ConversionError(f"MXNet conversion exited with code {done.returncode}: {_last_line(done.stderr)}")
    result = json.loads(result_path.read_text("utf-8"))
    if not result["ok"]:
        where = f" in {result['where']}" if result["where"] else ""
        raise ConversionError(f"MXNet {result['stage']} step failed: {result['error']}{where}")
    return result


def _last_line(stderr: str) -> str:
    """The most telling stderr line: MXNet's own error message if there is one."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", stderr).splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Check failed" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"
