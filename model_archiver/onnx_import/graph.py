"""Small read-only helpers over an ONNX graph shared by the sanitizer passes.

Kept apart from the passes so each pass reads as the rewrite it performs, not
as protobuf bookkeeping. ``onnx`` is imported by the callers; this module only
touches objects they hand in (plus ``onnx`` helpers imported lazily).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from onnx import GraphProto, ModelProto, NodeProto, ValueInfoProto

Shape = tuple[Optional[int], ...]
DEFAULT_DOMAINS = ("", "ai.onnx")


def default_opset(model: "ModelProto") -> int:
    """The opset version of the default ONNX domain (0 when none is imported)."""
    versions = [o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS]
    return max(versions, default=0)


def initializers(graph: "GraphProto") -> dict[str, "np.ndarray"]:
    """Initializer name -> value as a numpy array, for those whose bytes are in the graph
    (weights detached by ``passes.weights`` are absent: see :func:`initializer_specs`)."""
    from onnx import TensorProto, numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in graph.initializer if t.data_location != TensorProto.EXTERNAL}


def initializer_specs(graph: "GraphProto") -> dict[str, tuple[tuple[int, ...], "np.dtype"]]:
    """Initializer name -> (shape, dtype), detached or not, without reading any bytes."""
    from onnx import helper

    return {t.name: (tuple(t.dims), helper.tensor_dtype_to_np_dtype(t.data_type)) for t in graph.initializer}


def value_shape(info: "ValueInfoProto") -> Shape | None:
    """A value's declared shape, ``None`` per symbolic dim; ``None`` if rank is unknown."""
    tensor = info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    # Exporters such as paddle2onnx write a dynamic batch as dim_value -1.
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim)


def inferred_values(model: "ModelProto") -> dict[str, "ValueInfoProto"]:
    """Every value's type and shape as far as ONNX shape inference (with data propagation) knows it.

    Inference is best effort: ops it does not know leave their outputs absent.
    """
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    graph = inferred.graph
    return {info.name: info for info in [*graph.input, *graph.value_info, *graph.output]}


def inferred_shapes(model: "ModelProto") -> dict[str, Shape]:
    """Value name -> shape (ints, ``None`` per symbolic dim); unknown ranks are absent.

    Initializers are included with their exact shapes.
    """
    shapes: dict[str, Shape] = {}
    for name, info in inferred_values(model).items():
        shape = value_shape(info)
        if shape is not None:
            shapes[name] = shape
    for tensor in model.graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    return shapes


def is_static(shape: Shape | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


def node_label(node: "NodeProto", index: int) -> str:
    """How a node is named in messages: its name, else its position and first output."""
    if node.name:
        return f"'{node.name}'"
    output = node.output[0] if node.output else "?"
    return f"#{index} (output '{output}')"


def used_names(graph: "GraphProto") -> set[str]:
    """Every value and node name in the graph, to pick fresh ones."""
    names = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    return names


def fresh_name(taken: set[str], base: str) -> str:
    """``base`` or ``base_1``, ``base_2``… whichever is free; records the choice in ``taken``."""
    name, counter = base, 0
    while name in taken:
        counter += 1
        name = f"{base}_{counter}"
    taken.add(name)
    return name


def consumers(graph: "GraphProto") -> dict[str, int]:
    """How many node inputs and graph outputs read each value."""
    counts: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            counts[name] = counts.get(name, 0) + 1
    for output in graph.output:
        counts[output.name] = counts.get(output.name, 0) + 1
    return counts


def replace_nodes(graph: "GraphProto", nodes: Iterable["NodeProto"]) -> None:
    """Replace the graph's node list in place, keeping the given order."""
    new_nodes = list(nodes)
    del graph.node[:]
    graph.node.extend(new_nodes)
