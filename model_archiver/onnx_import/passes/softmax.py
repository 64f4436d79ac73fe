"""(Log)Softmax semantics the importer drops."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model_archiver.errors import ConversionError
from model_archiver.onnx_import.graph import (
    default_opset,
    fresh_name,
    inferred_shapes,
    is_static,
    node_label,
    replace_nodes,
    used_names,
)
from model_archiver.onnx_import.passes.common import (
    add_initializer,
    attr,
    copy_model,
    is_default_domain,
    set_attr,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto

def fix_legacy_softmax_axis(model: "ModelProto") -> "ModelProto":
    """Keep opset<13 (Log)Softmax semantics, which flatten the input from ``axis`` on into
    one dimension; MXNet instead normalises along a single axis.

    When ``axis`` is the last axis both agree (it is made explicit); otherwise the
    node becomes Reshape(leading dims kept, rest flattened) -> softmax -> Reshape back.
    """
    if default_opset(model) >= 13:
        return copy_model(model)
    from onnx import helper

    shapes = inferred_shapes(model)
    model = copy_model(model)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in ("Softmax", "LogSoftmax") or not is_default_domain(node):
            nodes.append(node)
            continue
        shape = shapes.get(node.input[0])
        if shape is None:
            raise ConversionError(
                f"{node.op_type} node {node_label(node, index)}: the rank of its input is unknown, "
                "so its opset<13 semantics cannot be kept; re-export with static shapes or opset >= 13"
            )
        axis = attr(node, "axis", 1) % len(shape)
        set_attr(node, "axis", -1)
        if axis == len(shape) - 1:
            nodes.append(node)
            continue
        trailing = shape[axis:]
        if not is_static(trailing):
            raise ConversionError(
                f"{node.op_type} node {node_label(node, index)} normalises over dimensions {axis}.. "
                f"of a tensor with dynamic size there {list(shape)}; re-export with static shapes or opset >= 13"
            )
        flat_shape = add_initializer(model, taken, f"{node.output[0]}_flat_shape", np.array([0] * axis + [-1], np.int64))
        back_shape = add_initializer(model, taken, f"{node.output[0]}_shape", np.array([0] * axis + list(trailing), np.int64))
        flat_in, flat_out = fresh_name(taken, f"{node.output[0]}_flat_in"), fresh_name(taken, f"{node.output[0]}_flat_out")
        output = node.output[0]
        nodes.append(helper.make_node("Reshape", [node.input[0], flat_shape], [flat_in]))
        node.input[0], node.output[0] = flat_in, flat_out
        nodes.append(node)
        nodes.append(helper.make_node("Reshape", [flat_out, back_shape], [output]))
    replace_nodes(model.graph, nodes)
    return model
