"""Find the model files at the archive root and check that they make one model.

MMS's MXNet services load ``<model name>-symbol.json`` and
``<model name>-0000.params`` from the model directory's root, so the checks
are about those names: a symbol without its params (or the reverse), two
checkpoints that compete, a prefix that is not the model name, epochs MMS never
loads, and more than one ``.onnx`` file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from model_archiver.validation.report import Problem, error, warning

_SYMBOL = re.compile(r"^(?P<prefix>[^/]+)-symbol\.json$")
_PARAMS = re.compile(r"^(?P<prefix>[^/]+)-(?P<epoch>\d{4,})\.params$")
SERVED_EPOCH = 0


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint: the symbol file and its params file per epoch."""

    prefix: str
    symbol: str
    params: dict[int, str] = field(default_factory=dict)


def find_checkpoints(names: list[str]) -> tuple[dict[str, str], dict[str, dict[int, str]]]:
    """Root-level ``prefix -> symbol file`` and ``prefix -> {epoch: params file}``."""
    symbols: dict[str, str] = {}
    params: dict[str, dict[int, str]] = {}
    for name in names:
        if match := _SYMBOL.match(name):
            symbols[match["prefix"]] = name
        elif match := _PARAMS.match(name):
            params.setdefault(match["prefix"], {})[int(match["epoch"])] = name
    return symbols, params


def single_prefix(names: list[str]) -> str | None:
    """The checkpoint prefix when there is exactly one (used to infer a model name)."""
    symbols, params = find_checkpoints(names)
    prefixes = set(symbols) | set(params)
    return prefixes.pop() if len(prefixes) == 1 else None


def check_model_files(names: list[str], model_name: str) -> tuple[Checkpoint | None, list[Problem]]:
    """The checkpoint to validate further (None if there is not exactly one) and the problems."""
    symbols, params = find_checkpoints(names)
    problems = _onnx_files(names)
    for prefix in sorted(set(params) - set(symbols)):
        for file in sorted(params[prefix].values()):
            problems.append(error(file, f"no {prefix}-symbol.json next to it; add the symbol file "
                                        "(HybridBlock.export writes both) or exclude the params",
                                  "checkpoint.params-without-symbol"))
    for prefix in sorted(set(symbols) - set(params)):
        problems.append(error(symbols[prefix], f"no {prefix}-NNNN.params next to it; add the params file "
                                               "(HybridBlock.export writes both) or exclude the symbol",
                              "checkpoint.symbol-without-params"))
    complete = sorted(set(symbols) & set(params))
    if len(complete) > 1:
        problems.append(error(symbols[complete[0]], f"{len(complete)} checkpoints ({', '.join(complete)}) "
                                                    "where MMS loads one; keep one or --exclude the others",
                              "checkpoint.multiple-prefixes"))
        return None, problems
    if not complete:
        return None, problems
    checkpoint = Checkpoint(complete[0], symbols[complete[0]], params[complete[0]])
    return checkpoint, problems + _naming(checkpoint, model_name)


def _naming(checkpoint: Checkpoint, model_name: str) -> list[Problem]:
    problems = []
    if checkpoint.prefix != model_name:
        problems.append(warning(checkpoint.symbol, f"checkpoint prefix '{checkpoint.prefix}' differs from model "
                                                   f"name '{model_name}', and MMS's MXNet services load "
                                                   f"'{model_name}-symbol.json'; rename the files or use "
                                                   f"--model-name {checkpoint.prefix} (ignore if your handler "
                                                   "loads them by name)", "checkpoint.prefix-mismatch"))
    if SERVED_EPOCH not in checkpoint.params:
        first = checkpoint.params[min(checkpoint.params)]
        problems.append(warning(first, f"no epoch {SERVED_EPOCH:04d} params, which MMS's MXNet services load; "
                                       f"rename it to {checkpoint.prefix}-0000.params (ignore if your handler "
                                       "picks the epoch)", "checkpoint.epoch-not-zero"))
    elif len(checkpoint.params) > 1:
        for epoch, file in sorted(checkpoint.params.items()):
            if epoch != SERVED_EPOCH:
                problems.append(warning(file, f"epoch {epoch} is archived but MMS loads epoch {SERVED_EPOCH:04d}; "
                                              "--exclude it to keep the archive small", "checkpoint.extra-epoch"))
    return problems


def _onnx_files(names: list[str]) -> list[Problem]:
    onnx = [n for n in names if n.lower().endswith(".onnx")]
    if len(onnx) < 2:
        return []
    return [error(onnx[1], f"{len(onnx)} .onnx files ({', '.join(onnx)}); a model archive holds one model: "
                           "keep one or --exclude the others", "model.multiple-onnx")]
