"""Operands in the forms the importer reads: attributes instead of inputs, explicit
defaults where ONNX and MXNet disagree, constants it needs present."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from model_archiver.errors import ConversionError
from model_archiver.onnx_import.graph import (
    Shape,
    default_opset,
    inferred_shapes,
    initializer_specs,
    initializers,
    is_static,
    node_label,
    replace_nodes,
    used_names,
)
from model_archiver.onnx_import.passes.common import (
    add_initializer,
    attr,
    copy_model,
    drop_attr,
    is_default_domain,
    prune_unused_initializers,
    set_attr,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto

# Ops that moved ``axes`` from an attribute to an input, and the opset where they did.
_AXES_INPUT_SINCE = {
    "Squeeze": 13, "Unsqueeze": 13, "ReduceSum": 13,
    "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18, "ReduceProd": 18, "ReduceL1": 18,
    "ReduceL2": 18, "ReduceLogSum": 18, "ReduceLogSumExp": 18, "ReduceSumSquare": 18,
}
REDUCE_OPS = {op for op in _AXES_INPUT_SINCE if op.startswith("Reduce")}

def complete_clip_bounds(model: "ModelProto") -> "ModelProto":
    """Give every opset>=11 ``Clip`` both bounds as constants: the importer crashes on one-
    input Clips and cannot look up an omitted ``min``."""
    if default_opset(model) < 11:
        return copy_model(model)
    model = copy_model(model)
    taken = used_names(model.graph)
    params = initializers(model.graph)
    for node in model.graph.node:
        if node.op_type != "Clip" or not is_default_domain(node):
            continue
        bounds = list(node.input[1:]) + [""] * (3 - len(node.input))
        given = [params[b] for b in bounds if b in params]
        dtype = given[0].dtype if given else np.dtype("float32")
        limits = (np.finfo(dtype).min, np.finfo(dtype).max) if dtype.kind == "f" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        for slot, limit in enumerate(limits):
            if bounds[slot] == "":
                bounds[slot] = add_initializer(model, taken, f"{node.output[0]}_clip_bound", np.array(limit, dtype=dtype))
        del node.input[1:]
        node.input.extend(bounds)
    return model

def add_missing_gemm_bias(model: "ModelProto") -> "ModelProto":
    """Give a bias-less ``Gemm`` a zero bias: the importer sizes FullyConnected from ``C``."""
    model = copy_model(model)
    taken = used_names(model.graph)
    specs = initializer_specs(model.graph)
    for node in model.graph.node:
        if node.op_type != "Gemm" or len(node.input) >= 3 or node.input[1] not in specs:
            continue
        shape, dtype = specs[node.input[1]]
        units = shape[0] if attr(node, "transB", 0) else shape[1]
        node.input.append(add_initializer(model, taken, f"{node.output[0]}_bias", np.zeros(units, dtype)))
    return model

def explicit_kernel_shape(model: "ModelProto") -> "ModelProto":
    """Write ``kernel_shape`` on Conv/ConvTranspose that omit it (ONNX infers it from the
    weight; the importer requires the attribute)."""
    model = copy_model(model)
    specs = initializer_specs(model.graph)
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose") and attr(node, "kernel_shape") is None and node.input[1] in specs:
            set_attr(node, "kernel_shape", [int(d) for d in specs[node.input[1]][0][2:]])
    return model

def axes_inputs_to_attributes(model: "ModelProto") -> "ModelProto":
    """Move constant ``axes`` inputs (Squeeze/Unsqueeze/ReduceSum at opset>=13, other
    Reduce ops at >=18) into the ``axes`` attribute the importer reads, and order
    Unsqueeze axes as non-negative output positions so inserting them one at a time
    (as the importer does) is right."""
    from onnx import helper

    shapes = inferred_shapes(model)
    model = copy_model(model)
    params = initializers(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in _AXES_INPUT_SINCE or not is_default_domain(node):
            nodes.append(node)
            continue
        if len(node.input) > 1 and node.input[1] in params:
            set_attr(node, "axes", [int(a) for a in params[node.input[1]].reshape(-1)])
            del node.input[1:]
        if node.op_type in REDUCE_OPS:
            skip_empty = attr(node, "noop_with_empty_axes", 0)
            drop_attr(node, "noop_with_empty_axes")
            if skip_empty and attr(node, "axes") is None and len(node.input) == 1:
                node = helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name)
        if node.op_type == "Unsqueeze" and attr(node, "axes") is not None:
            set_attr(node, "axes", _unsqueeze_axes(node, index, attr(node, "axes"), shapes.get(node.input[0])))
        nodes.append(node)
    replace_nodes(model.graph, nodes)
    return prune_unused_initializers(model)

def _unsqueeze_axes(node, index: int, axes: Sequence[int], shape: Shape | None) -> list[int]:
    if all(a >= 0 for a in axes):
        return sorted(axes)
    if shape is None:
        raise ConversionError(f"Unsqueeze node {node_label(node, index)} uses negative axes on an input of unknown rank")
    rank = len(shape) + len(axes)
    return sorted(a % rank for a in axes)

def explicit_reduce_keepdims(model: "ModelProto") -> "ModelProto":
    """Write ONNX's default ``keepdims=1`` on Reduce ops: MXNet's default is to drop axes."""
    model = copy_model(model)
    for node in model.graph.node:
        if node.op_type in REDUCE_OPS and is_default_domain(node) and attr(node, "keepdims") is None:
            set_attr(node, "keepdims", 1)
    return model

def list_initializers_as_inputs(model: "ModelProto") -> "ModelProto":
    """List every initializer in ``graph.input`` (IR>=4 exporters don't; the importer
    only creates variables for listed inputs and fails with ``KeyError: name``)."""
    from onnx import helper

    model = copy_model(model)
    listed = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        if tensor.name not in listed:
            model.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    return model


def explicit_conv_transpose_pads(model: "ModelProto") -> "ModelProto":
    """Turn a ConvTranspose's ``output_shape`` or ``auto_pad=SAME_*`` into explicit ``pads``
    (ONNX's formula), since only here is the input's spatial size known; a negative
    total padding becomes ``output_padding``."""
    targets = [n for n in model.graph.node if n.op_type == "ConvTranspose" and is_default_domain(n)
               and (attr(n, "output_shape") is not None or _text(attr(n, "auto_pad", b"NOTSET")).startswith("SAME"))]
    if not targets:
        return model
    shapes = inferred_shapes(model)
    specs = initializer_specs(model.graph)
    model = copy_model(model)
    for index, node in enumerate(model.graph.node):
        if node.op_type != "ConvTranspose" or not any(node.output[0] == t.output[0] for t in targets):
            continue
        shape = shapes.get(node.input[0])
        kernel = attr(node, "kernel_shape") or (specs[node.input[1]][0][2:] if node.input[1] in specs else None)
        if shape is None or not is_static(shape[2:]) or kernel is None:
            raise ConversionError(f"ConvTranspose node {node_label(node, index)}: output_shape/auto_pad need the "
                                  "input's static spatial size; re-export with static shapes")
        rank = len(kernel)
        strides = list(attr(node, "strides", [1] * rank))
        dilations = list(attr(node, "dilations", [1] * rank))
        adjust = list(attr(node, "output_padding", [0] * rank))
        mode = _text(attr(node, "auto_pad", b"NOTSET"))
        wanted = list(attr(node, "output_shape"))[-rank:] if attr(node, "output_shape") is not None else \
            [shape[2 + i] * strides[i] for i in range(rank)]
        begins, ends = [], []
        for i in range(rank):
            total = strides[i] * (shape[2 + i] - 1) + adjust[i] + (kernel[i] - 1) * dilations[i] + 1 - wanted[i]
            if total < 0:
                adjust[i] -= total
                total = 0
            small, large = total // 2, total - total // 2
            begins.append(small if mode == "SAME_UPPER" else large)
            ends.append(large if mode == "SAME_UPPER" else small)
        for name in ("output_shape", "auto_pad"):
            drop_attr(node, name)
        set_attr(node, "pads", begins + ends)
        set_attr(node, "output_padding", adjust)
    return model


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def non_negative_arg_axes(model: "ModelProto") -> "ModelProto":
    """Write ArgMax/ArgMin's negative ``axis`` as a position: the ``select_last_index``
    translation reverses that axis, and MXNet's ``reverse`` takes no negative axis."""
    targets = [n for n in model.graph.node if n.op_type in ("ArgMax", "ArgMin") and attr(n, "axis", 0) < 0]
    if not targets:
        return model
    shapes = inferred_shapes(model)
    model = copy_model(model)
    for index, node in enumerate(model.graph.node):
        if node.op_type not in ("ArgMax", "ArgMin") or attr(node, "axis", 0) >= 0:
            continue
        shape = shapes.get(node.input[0])
        if shape is None:
            raise ConversionError(f"{node.op_type} node {node_label(node, index)} uses a negative axis on an input "
                                  "of unknown rank; re-export with static shapes")
        set_attr(node, "axis", attr(node, "axis") % len(shape))
    return model


def explicit_batchnorm_epsilon(model: "ModelProto") -> "ModelProto":
    """Write ONNX's default ``epsilon=1e-5`` on BatchNormalization: the importer passes only
    what is written, and MXNet's default ``eps`` is 1e-3 (wrong wherever a variance is small)."""
    if all(n.op_type != "BatchNormalization" or attr(n, "epsilon") is not None for n in model.graph.node):
        return model
    model = copy_model(model)
    for node in model.graph.node:
        if node.op_type == "BatchNormalization" and is_default_domain(node) and attr(node, "epsilon") is None:
            set_attr(node, "epsilon", 1e-5)
    return model


_AUTO_PAD_OPS = ("Conv", "AveragePool", "MaxPool", "LpPool")


def explicit_auto_pads(model: "ModelProto") -> "ModelProto":
    """Turn ``auto_pad=SAME_UPPER/SAME_LOWER`` on convolutions and pools into explicit ``pads``
    (ONNX's formula; the importer ignores ``auto_pad``), and ``VALID`` into no pads."""
    targets = {n.output[0] for n in model.graph.node if n.op_type in _AUTO_PAD_OPS and is_default_domain(n)
               and _text(attr(n, "auto_pad", b"NOTSET")) != "NOTSET"}
    if not targets:
        return model
    shapes = inferred_shapes(model)
    specs = initializer_specs(model.graph)
    model = copy_model(model)
    for index, node in enumerate(model.graph.node):
        if node.output[0] not in targets:
            continue
        mode = _text(attr(node, "auto_pad"))
        shape = shapes.get(node.input[0])
        kernel = attr(node, "kernel_shape") or (specs[node.input[1]][0][2:] if len(node.input) > 1 and node.input[1] in specs else None)
        drop_attr(node, "auto_pad")
        if mode == "VALID" or kernel is None:
            continue
        if shape is None or not is_static(shape[2:]):
            raise ConversionError(f"{node.op_type} node {node_label(node, index)}: auto_pad={mode} needs the input's "
                                  "static spatial size; re-export with explicit pads")
        rank = len(kernel)
        strides = list(attr(node, "strides", [1] * rank))
        dilations = list(attr(node, "dilations", [1] * rank))
        begins, ends = [], []
        for i in range(rank):
            size = shape[2 + i]
            total = max((-(-size // strides[i]) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if mode == "SAME_UPPER" else large)
            ends.append(large if mode == "SAME_UPPER" else small)
        set_attr(node, "pads", begins + ends)
    return model


def flatten_to_reshape(model: "ModelProto") -> "ModelProto":
    """``Flatten`` with ``axis != 1`` (MXNet's flattens at 1 only) becomes a Reshape to
    ``[prod(dims[:axis]), prod(dims[axis:])]``, which needs the input's static shape."""
    from onnx import helper

    if all(n.op_type != "Flatten" or attr(n, "axis", 1) == 1 for n in model.graph.node):
        return model
    shapes = inferred_shapes(model)
    model = copy_model(model)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type != "Flatten" or not is_default_domain(node) or attr(node, "axis", 1) == 1:
            nodes.append(node)
            continue
        shape = shapes.get(node.input[0])
        if not is_static(shape):
            raise ConversionError(f"Flatten node {node_label(node, index)}: axis={attr(node, 'axis')} needs the "
                                  "input's static shape (MXNet flattens at axis 1 only); re-export with static shapes")
        axis = attr(node, "axis") + len(shape) if attr(node, "axis") < 0 else attr(node, "axis")
        target = [int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64))]
        name = add_initializer(model, taken, f"{node.output[0]}_shape", np.array(target, np.int64))
        nodes.append(helper.make_node("Reshape", [node.input[0], name], list(node.output), name=node.name))
    replace_nodes(model.graph, nodes)
    return model
