"""The ``signature.json`` MMS's MXNet services read, generated from the converted graph.

Inputs keep their ONNX names (they are the MXNet data names too); outputs carry
the converted symbol's output names. Symbolic dimensions are written as 0, which
MMS's services read as "any size" (the batch dimension is set at bind time).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from model_archiver.onnx_import.graph import Shape, inferred_shapes
from model_archiver.onnx_import.inputs import InputSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from onnx import ModelProto

DEFAULT_INPUT_TYPE = "application/json"
OUTPUT_TYPE = "application/json"


def build_signature(
    model: "ModelProto",
    inputs: Sequence[InputSpec],
    output_names: Sequence[str],
    *,
    input_type: str | None = None,
    observed: Sequence["np.ndarray"] | None = None,
) -> dict[str, Any]:
    """A signature for the converted model.

    Output shapes are the ones seen during verification (``observed``, the batch
    made symbolic when the input's is), else ONNX shape inference's (skipped when
    possible: it serializes the whole model, weights included).
    """
    shapes = inferred_shapes(model) if observed is None else {}
    dynamic_batch = any(spec.dynamic_batch for spec in inputs)
    outputs = []
    for index, (graph_output, name) in enumerate(zip(model.graph.output, output_names)):
        shape = shapes.get(graph_output.name)
        if shape is None and observed is not None:
            seen = list(observed[index].shape)
            shape = tuple([None] + seen[1:]) if dynamic_batch and seen else tuple(seen)
        entry: dict[str, Any] = {"data_name": name}
        if shape is not None:
            entry["data_shape"] = _zeros_for_symbolic(shape)
        outputs.append(entry)
    return {
        "inputs": [{"data_name": spec.name, "data_shape": _zeros_for_symbolic(spec.dims)} for spec in inputs],
        "input_type": input_type or DEFAULT_INPUT_TYPE,
        "outputs": outputs,
        "output_type": OUTPUT_TYPE,
    }


def _zeros_for_symbolic(shape: Shape | Sequence[Optional[int]]) -> list[int]:
    return [0 if d is None else int(d) for d in shape]
