"""Run MXNet's importer in a child process and turn its fate into data or one-line errors.

MXNet aborts (SIGABRT) rather than raising on some shapes; in a child that is a
return code, reported as a :class:`ConversionError` instead of a dead CLI.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional

from model_archiver.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from onnx import ModelProto

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("convert_worker.py")
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Converted:
    """What the child reports: the MXNet output names, parameter counts, and outputs if run."""

    output_names: list[str]
    arg_params: int
    aux_params: list[str]
    outputs: Optional[list["np.ndarray"]]


def convert_in_subprocess(
    sanitized: "ModelProto",
    prefix: Path,
    scratch: Path,
    feeds: Mapping[str, "np.ndarray"] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Converted:
    """Import ``sanitized`` with MXNet, save ``PREFIX-symbol.json``/``PREFIX-0000.params``,
    and when ``feeds`` are given run the saved checkpoint on them."""
    import numpy as np
    import onnx

    scratch.mkdir(parents=True, exist_ok=True)
    model_path = scratch / "sanitized.onnx"
    onnx.save(sanitized, str(model_path))
    request = {
        "model": str(model_path),
        "prefix": str(prefix),
        "result": str(scratch / "result.json"),
        "outputs": str(scratch / "outputs.npz"),
        "inputs": None,
        "input_names": list(feeds or ()),
    }
    if feeds:
        np.savez(scratch / "inputs.npz", **dict(feeds))
        request["inputs"] = str(scratch / "inputs.npz")
    (scratch / "request.json").write_text(json.dumps(request), "utf-8")
    result = _run_worker(scratch / "request.json", Path(request["result"]), timeout)
    outputs = None
    if feeds:
        with np.load(request["outputs"]) as saved:
            outputs = [saved[f"arr_{i}"] for i in range(len(saved.files))]
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
        raise ConversionError(f"MXNet {result['stage']} step failed: {result['error']} in {result['where']}")
    return result


def _last_line(stderr: str) -> str:
    """The most telling stderr line: MXNet's own error message if there is one."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Check failed" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"
