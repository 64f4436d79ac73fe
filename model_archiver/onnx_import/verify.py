"""Numeric verification: the original ONNX file, run by an ONNX runtime, against the
converted MXNet checkpoint on the same inputs."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from model_archiver.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from onnx import ModelProto

log = logging.getLogger(__name__)

DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3


@dataclass(frozen=True)
class OutputDiff:
    """How far one converted output is from the reference."""

    name: str
    shape: list[int]
    max_abs: float
    max_rel: float
    ok: bool


@dataclass(frozen=True)
class VerificationReport:
    """Result of one comparison; ``ok`` when every element is within ``atol + rtol*|ref|``."""

    runtime: str
    atol: float
    rtol: float
    input_shapes: dict[str, list[int]]
    outputs: list[OutputDiff] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((o.max_rel for o in self.outputs), default=0.0)

    def summary(self) -> str:
        return (
            f"max abs diff {self.max_abs:.3g}, max rel diff {self.max_rel:.3g} "
            f"vs {self.runtime} (atol {self.atol:g}, rtol {self.rtol:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(ok=self.ok, max_abs=self.max_abs, max_rel=self.max_rel)
        return doc


def run_reference(
    model: "ModelProto", feed_sets: Sequence[Mapping[str, "np.ndarray"]]
) -> tuple[list[list["np.ndarray"]], str]:
    """Outputs of the original model for each set of feeds: onnxruntime when installed,
    else ONNX's reference evaluator."""
    failure = None
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None
    if onnxruntime is not None:
        try:
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # errors only: its warnings are about the file, not the check
            session = onnxruntime.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
            return [session.run(None, dict(feeds)) for feeds in feed_sets], f"onnxruntime {onnxruntime.__version__}"
        except Exception as exc:  # noqa: BLE001 - fall back to the reference evaluator
            failure = exc
            log.warning("onnxruntime could not run the model (%s); using onnx.reference", _line(exc))
    from onnx.reference import ReferenceEvaluator

    try:
        evaluator = ReferenceEvaluator(model)
        return [list(evaluator.run(None, dict(feeds))) for feeds in feed_sets], "onnx.reference"
    except Exception as exc:  # noqa: BLE001 - becomes one line for the user
        reason = _line(failure or exc)
        raise ConversionError(f"could not run the original model to verify the conversion ({reason}); use --no-verify to skip") from None


def with_probes(model: "ModelProto", probes: Sequence[str]) -> "ModelProto":
    """A copy of ``model`` that also outputs the values named in ``probes``."""
    import onnx
    from onnx import helper

    if not probes:
        return model
    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    dtype = model.graph.output[0].type.tensor_type.elem_type or onnx.TensorProto.FLOAT
    probed.graph.output.extend(helper.make_tensor_value_info(name, dtype, None) for name in probes)
    return probed


def presoftmax_probes(model: "ModelProto", sanitized: "ModelProto") -> list[str]:
    """Values fed to a final (Log)Softmax: checked besides the outputs, since a softmax
    can hide wrong logits (an AveragePool that counted its padding still gave the right
    class probabilities). Only values the sanitized graph still computes qualify."""
    outputs = {o.name for o in model.graph.output}
    computed = {name for node in sanitized.graph.node for name in node.output}
    found = []
    for node in model.graph.node:
        if node.op_type in ("Softmax", "LogSoftmax") and node.output[0] in outputs and node.input[0] in computed:
            if node.input[0] not in outputs and node.input[0] not in found:
                found.append(node.input[0])
    return found


def compare(
    reference: Sequence["np.ndarray"],
    converted: Sequence["np.ndarray"],
    names: Sequence[str],
    *,
    runtime: str,
    input_shapes: Mapping[str, Sequence[int]],
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> VerificationReport:
    """Element-wise comparison of each output pair (shapes must match exactly)."""
    diffs = [compare_output(name, expected, actual, atol, rtol) for name, expected, actual in _pairs(reference, converted, names)]
    return VerificationReport(runtime, atol, rtol, {k: list(v) for k, v in input_shapes.items()}, diffs)


def _pairs(reference, converted, names):
    if len(reference) != len(converted):
        raise ConversionError(f"the converted model has {len(converted)} output(s), the ONNX model {len(reference)}")
    return zip(names, reference, converted)


def compare_output(name: str, expected: "np.ndarray", actual: "np.ndarray", atol: float, rtol: float) -> OutputDiff:
    """One output: ``|mx - onnx| <= atol*scale + rtol*|onnx|`` everywhere, ``scale`` being the
    output's largest magnitude (at least 1), so a large-magnitude draw is judged by the
    precision float32 has at that magnitude; equal infinities and NaNs agree."""
    import numpy as np

    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if expected.shape != actual.shape:
        raise ConversionError(
            f"output '{name}' has shape {list(actual.shape)} after conversion but {list(expected.shape)} in ONNX"
        )
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max(initial=0.0)))
    with np.errstate(invalid="ignore"):
        error = np.where(same, 0.0, np.abs(actual - expected))
    error = np.where(np.isnan(error), np.inf, error)
    max_abs = float(error.max(initial=0.0))
    with np.errstate(invalid="ignore"):
        ok = bool(np.all(same | (error <= atol * scale + rtol * np.abs(expected))))
        max_rel = float(np.where(same, 0.0, error / np.maximum(np.abs(expected), np.finfo(np.float32).tiny)).max(initial=0.0))
    return OutputDiff(name, list(actual.shape), max_abs, max_rel, ok)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
