"""Ops MXNet's importer lacks, spelled with ops it translates faithfully.

Each decomposition is the ONNX definition of the op written out with
elementary nodes, so the numeric check compares it with the real thing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model_archiver.errors import ConversionError
from model_archiver.onnx_import.graph import (
    default_opset,
    fresh_name,
    inferred_shapes,
    inferred_values,
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
    from onnx import ModelProto

# ReduceMean takes its axes as an input from this opset on.
_REDUCE_AXES_INPUT = 18


def castlike_to_cast(model: "ModelProto") -> "ModelProto":
    """``CastLike(x, like)`` -> ``Cast(x, to=dtype of like)`` when shape inference knows that dtype."""
    from onnx import helper

    if not any(n.op_type == "CastLike" for n in model.graph.node):
        return model
    types = {t.name: t.data_type for t in model.graph.initializer}
    types.update((name, info.type.tensor_type.elem_type) for name, info in inferred_values(model).items())
    model = copy_model(model)
    nodes = []
    for node in model.graph.node:
        target = types.get(node.input[1]) if node.op_type == "CastLike" and is_default_domain(node) else None
        if target:
            nodes.append(helper.make_node("Cast", [node.input[0]], list(node.output), name=node.name, to=target))
        else:
            nodes.append(node)
    replace_nodes(model.graph, nodes)
    return prune_unused_initializers(model)


def decompose_layer_normalization(model: "ModelProto") -> "ModelProto":
    """``LayerNormalization`` -> (x - mean) / sqrt(var + eps) * scale + bias over axes ``axis..``.

    Refused by name when its optional Mean/InvStdDev outputs are used (training
    only) or its input's rank is unknown.
    """
    from onnx import helper

    if not any(n.op_type == "LayerNormalization" for n in model.graph.node):
        return model
    shapes = inferred_shapes(model)
    opset = default_opset(model)
    model = copy_model(model)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type != "LayerNormalization" or not is_default_domain(node):
            nodes.append(node)
            continue
        label = f"LayerNormalization node {node_label(node, index)}"
        if any(node.output[1:]):
            raise ConversionError(f"{label}: its Mean/InvStdDev outputs have no MXNet equivalent")
        shape = shapes.get(node.input[0])
        if shape is None:
            raise ConversionError(f"{label}: the rank of its input is unknown; re-export with static shapes")
        axes = list(range(attr(node, "axis", -1) % len(shape), len(shape)))
        base = node.output[0]

        def out(suffix: str) -> str:
            return fresh_name(taken, f"{base}_{suffix}")

        def reduce_mean(source: str, target: str):
            if opset >= _REDUCE_AXES_INPUT:
                axes_name = add_initializer(model, taken, f"{base}_axes", np.array(axes, np.int64))
                return helper.make_node("ReduceMean", [source, axes_name], [target], keepdims=1)
            return helper.make_node("ReduceMean", [source], [target], axes=axes, keepdims=1)

        eps = add_initializer(model, taken, f"{base}_epsilon", np.array([attr(node, "epsilon", 1e-5)], np.float32))
        mean, centred, square, var, shifted, std, normed = (out(s) for s in ("mean", "centred", "sq", "var", "eps", "std", "norm"))
        has_bias = len(node.input) > 2 and node.input[2]
        scaled = out("scaled") if has_bias else base
        nodes += [
            reduce_mean(node.input[0], mean),
            helper.make_node("Sub", [node.input[0], mean], [centred]),
            helper.make_node("Mul", [centred, centred], [square]),
            reduce_mean(square, var),
            helper.make_node("Add", [var, eps], [shifted]),
            helper.make_node("Sqrt", [shifted], [std]),
            helper.make_node("Div", [centred, std], [normed]),
            helper.make_node("Mul", [normed, node.input[1]], [scaled]),
        ]
        if has_bias:
            nodes.append(helper.make_node("Add", [scaled, node.input[2]], [base]))
    replace_nodes(model.graph, nodes)
    return model
