"""``--check-shapes``: let MXNet infer the graph's shapes from the signature and params.

The saved shapes come from the params header (no weights are loaded), the
input shapes from ``signature.json`` with ``0`` replaced by 1 (as MMS's
services do). MXNet then reports any operator whose weights do not fit, and
the inferred output shapes are compared with the signature's. Runs in a child
process: MXNet may abort rather than raise on bad shapes, and building or
inspecting archives must not import MXNet.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from model_archiver.sources import FileSource
from model_archiver.validation.report import Problem, error, warning

SHAPE_TIMEOUT = 300.0
_PROBE = Path(__file__).with_name("shape_probe.py")


def check_shapes(
    source: FileSource,
    symbol_file: str,
    signature: dict[str, Any] | None,
    param_shapes: dict[str, tuple[int, ...]],
    timeout: float = SHAPE_TIMEOUT,
) -> list[Problem]:
    """Problems MXNet's shape inference finds; a warning when it cannot run."""
    if signature is None:
        return [warning(symbol_file, "--check-shapes needs signature.json for the input shapes; add one",
                        "shapes.no-signature")]
    inputs = {i["data_name"]: [d or 1 for d in i["data_shape"]] for i in signature["inputs"]}
    with tempfile.TemporaryDirectory(prefix="ma-shapes-") as scratch:
        local_symbol = Path(scratch, "model-symbol.json")
        with source.open(symbol_file) as reader:
            local_symbol.write_bytes(reader.read())
        exchange = Path(scratch, "exchange.json")
        exchange.write_text(json.dumps({"inputs": inputs, "params": param_shapes}), "utf-8")
        command = [sys.executable, "-c", _PROBE.read_text("utf-8"), str(local_symbol), str(exchange)]
        try:
            completed = subprocess.run(command, cwd=scratch, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [error(symbol_file, f"MXNet shape inference did not finish in {timeout:.0f} s",
                          "shapes.timeout")]
        result = json.loads(exchange.read_text("utf-8"))
        if "ok" not in result:
            return [error(symbol_file, f"MXNet crashed inferring shapes (exit code {completed.returncode}); "
                                       "check the signature's input shapes", "shapes.inference-crashed")]
    return _problems(symbol_file, signature, result)


def _problems(symbol_file: str, signature: dict[str, Any], result: dict[str, Any]) -> list[Problem]:
    if not result["ok"]:
        if result["stage"] == "mxnet":
            return [warning(symbol_file, f"--check-shapes needs MXNet ({result['error']}); install mxnet",
                            "shapes.mxnet-missing")]
        return [error(symbol_file, f"MXNet shape inference with the signature's input shapes failed: "
                                   f"{result['error']}", "shapes.inference-failed")]
    problems = []
    outputs = result["outputs"] or []
    for index, item in enumerate(signature.get("outputs", [])):
        wanted = item.get("data_shape")
        if wanted is None or index >= len(outputs) or outputs[index] is None:
            continue
        inferred = outputs[index]
        fits = len(inferred) == len(wanted) and all(w in (0, s) for w, s in zip(wanted[1:], inferred[1:]))
        if not fits:
            problems.append(error("signature.json", f"outputs[{index}].data_shape {wanted} but MXNet infers "
                                                    f"{inferred} (batch 1) for {symbol_file}; fix the signature",
                                  "shapes.output-mismatch"))
    return problems
