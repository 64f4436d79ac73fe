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


def run_reference(model: "ModelProto", feeds: Mapping[str, "np.ndarray"]) -> tuple[list["np.ndarray"], str]:
    """Outputs of the original model: onnxruntime when installed, else ONNX's reference evaluator."""
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
            return session.run(None, dict(feeds)), f"onnxruntime {onnxruntime.__version__}"
        except Exception as exc:  # noqa: BLE001 - fall back to the reference evaluator
            failure = exc
            log.warning("onnxruntime could not run the model (%s); using onnx.reference", _line(exc))
    from onnx.reference import ReferenceEvaluator

    try:
        return list(ReferenceEvaluator(model).run(None, dict(feeds))), "onnx.reference"
    except Exception as exc:  # noqa: BLE001 - becomes one line for the user
        reason = _line(failure or exc)
        raise ConversionError(f"could not run the original model to verify the conversion ({reason}); use --no-verify to skip") from None


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
    import numpy as np

    if len(reference) != len(converted):
        raise ConversionError(f"the converted model has {len(converted)} output(s), the ONNX model {len(reference)}")
    diffs = []
    for name, expected, actual in zip(names, reference, converted):
        expected = np.asarray(expected, dtype=np.float64)
        actual = np.asarray(actual, dtype=np.float64)
        if expected.shape != actual.shape:
            raise ConversionError(
                f"output '{name}' has shape {list(actual.shape)} after conversion but {list(expected.shape)} in ONNX"
            )
        error = np.abs(actual - expected)
        max_abs = float(error.max(initial=0.0))
        max_rel = float((error / np.maximum(np.abs(expected), np.finfo(np.float32).tiny)).max(initial=0.0))
        ok = bool(np.all(error <= atol + rtol * np.abs(expected)))
        diffs.append(OutputDiff(name, list(actual.shape), max_abs, max_rel, ok))
    shapes = {k: list(v) for k, v in input_shapes.items()}
    return VerificationReport(runtime, atol, rtol, shapes, diffs)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
