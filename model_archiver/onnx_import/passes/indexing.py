"""Slice and Gather, rewritten to what MXNet's ``take`` does faithfully."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model_archiver.errors import ConversionError
from model_archiver.onnx_import.graph import (
    default_opset,
    fresh_name,
    inferred_shapes,
    initializers,
    node_label,
    replace_nodes,
    used_names,
)
from model_archiver.onnx_import.passes.common import (
    add_initializer,
    attr,
    copy_model,
    is_default_domain,
    prune_unused_initializers,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto, NodeProto

# ONNX slices "to the end" with huge sentinels (INT64_MAX, INT32_MAX).
_TO_THE_END = 2**31 - 1

def _slice_arguments(node: "NodeProto", opset: int, params: dict[str, np.ndarray]):
    """``(starts, ends, axes, steps)`` of a Slice, or ``None`` when they are not constant."""
    if opset < 10:
        starts, ends = list(attr(node, "starts")), list(attr(node, "ends"))
        return starts, ends, attr(node, "axes"), [1] * len(starts)
    operands = list(node.input[1:]) + [""] * (5 - len(node.input))
    if any(name and name not in params for name in operands):
        return None
    starts, ends, axes, steps = (params[n].tolist() if n else None for n in operands)
    return starts, ends, axes, steps or [1] * len(starts)

def slice_to_gather(model: "ModelProto") -> "ModelProto":
    """Replace constant ``Slice`` nodes with ``Gather`` on constant indices.

    The importer's Slice reads opset>=10 bounds as float32 (INT64_MAX becomes
    "end=nan"), ignores ``steps`` and clamps ends against the *first graph input*'s
    shape; Gather maps to MXNet's ``take``, which it translates faithfully.
    Python's slice clamping is ONNX's, so ``arange(dim)[start:end:step]`` gives the indices.
    """
    from onnx import helper

    opset = default_opset(model)
    shapes = inferred_shapes(model)
    model = copy_model(model)
    params = initializers(model.graph)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        arguments = _slice_arguments(node, opset, params) if node.op_type == "Slice" and is_default_domain(node) else None
        if arguments is None:
            nodes.append(node)
            continue
        shape = shapes.get(node.input[0])
        if shape is None:
            raise ConversionError(f"Slice node {node_label(node, index)}: the rank of its input is unknown; re-export with static shapes")
        starts, ends, axes, steps = arguments
        current = node.input[0]
        for axis, start, end, step in zip(axes or range(len(starts)), starts, ends, steps):
            axis %= len(shape)
            indices = _slice_indices(node, index, shape[axis], axis, start, end, step)
            if indices is None:
                continue
            name = add_initializer(model, taken, f"{node.output[0]}_indices_{axis}", indices)
            output = fresh_name(taken, f"{node.output[0]}_axis_{axis}")
            nodes.append(helper.make_node("Gather", [current, name], [output], axis=axis))
            current = output
        if current == node.input[0]:
            nodes.append(helper.make_node("Identity", [current], [node.output[0]]))
        else:
            nodes[-1].output[0] = node.output[0]
    replace_nodes(model.graph, nodes)
    return prune_unused_initializers(model)

def _slice_indices(node, index: int, dim: int | None, axis: int, start: int, end: int, step: int) -> np.ndarray | None:
    """Indices one Slice axis keeps, or ``None`` when it keeps the whole axis."""
    if dim is None:
        if start == 0 and end >= _TO_THE_END and step == 1:
            return None
        raise ConversionError(
            f"Slice node {node_label(node, index)} cuts dynamic dimension {axis} of its input; "
            "re-export with a static input size"
        )
    indices = np.arange(dim, dtype=np.int64)[slice(start, end, step)]
    if indices.size == 0:
        raise ConversionError(f"Slice node {node_label(node, index)} selects nothing on axis {axis}")
    if indices.size == dim and step == 1:
        return None
    return indices

def normalize_gather_indices(model: "ModelProto") -> "ModelProto":
    """Make constant ``Gather`` indices non-negative and at least 1-D.

    MXNet's ``take`` clips negative indices to 0, and the importer turns a scalar
    index into shape ``(1,)``, keeping an axis ONNX drops; the dropped axis is
    restored with an explicit ``Squeeze``.
    """

    opset = default_opset(model)
    shapes = inferred_shapes(model)
    model = copy_model(model)
    params = initializers(model.graph)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        indices = params.get(node.input[1]) if node.op_type == "Gather" and is_default_domain(node) else None
        if indices is None or (indices.ndim > 0 and (indices >= 0).all()):
            nodes.append(node)
            continue
        shape = shapes.get(node.input[0])
        axis = attr(node, "axis", 0)
        dim = shape[axis] if shape is not None else None
        if dim is None and (indices < 0).any():
            raise ConversionError(f"Gather node {node_label(node, index)} uses negative indices on a dynamic dimension")
        fixed = np.where(indices < 0, indices + (dim or 0), indices).astype(np.int64)
        node.input[1] = add_initializer(model, taken, f"{node.output[0]}_indices", fixed.reshape(-1) if fixed.ndim == 0 else fixed)
        nodes.append(node)
        if indices.ndim == 0:
            output = node.output[0]
            node.output[0] = fresh_name(taken, f"{output}_kept")
            nodes.append(_squeeze(model, taken, node.output[0], output, axis % len(shape) if shape else axis, opset))
    replace_nodes(model.graph, nodes)
    return prune_unused_initializers(model)

def _squeeze(model: "ModelProto", taken: set[str], source: str, output: str, axis: int, opset: int) -> "NodeProto":
    from onnx import helper

    if opset >= 13:
        axes = add_initializer(model, taken, f"{output}_axes", np.array([axis], np.int64))
        return helper.make_node("Squeeze", [source, axes], [output])
    return helper.make_node("Squeeze", [source], [output], axes=[axis])
