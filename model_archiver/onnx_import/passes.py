"""Sanitizer passes: rewrite an ONNX graph into the forms MXNet 1.9.1's importer handles.

MXNet's importer (``mxnet/contrib/onnx/onnx2mx``) was written for opsets up to
~11 and for files that list their weights as graph inputs. Each pass below
fixes one gap as a small ``ModelProto -> ModelProto`` function that returns a
new model and leaves its argument untouched, so each can be tested on its own.
Values are computed with ONNX's own tools (shape inference, the reference
evaluator) rather than by re-implementing operator semantics.

The later passes (``axes_inputs_to_attributes`` and after) produce graphs that
are no longer valid ONNX for their declared opset - they target the importer,
which reads attributes whatever the opset - so ONNX tools must not be run on
their output; the original file is what verification runs.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from model_archiver.errors import ArchiverError, ConversionError
from model_archiver.onnx_import.graph import (
    DEFAULT_DOMAINS,
    Shape,
    default_opset,
    fresh_name,
    consumers,
    inferred_shapes,
    inferred_values,
    initializers,
    is_static,
    node_label,
    replace_nodes,
    used_names,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto, NodeProto

log = logging.getLogger(__name__)

Pass = Callable[["ModelProto"], "ModelProto"]

# Ops whose result is not a function of their inputs: never folded.
_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
# Ops that moved ``axes`` from an attribute to an input, and the opset where they did.
_AXES_INPUT_SINCE = {
    "Squeeze": 13, "Unsqueeze": 13, "ReduceSum": 13,
    "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18, "ReduceProd": 18, "ReduceL1": 18,
    "ReduceL2": 18, "ReduceLogSum": 18, "ReduceLogSumExp": 18, "ReduceSumSquare": 18,
}
_REDUCE_OPS = {op for op in _AXES_INPUT_SINCE if op.startswith("Reduce")}
# ONNX slices "to the end" with huge sentinels (INT64_MAX, INT32_MAX).
_TO_THE_END = 2**31 - 1


def _copy(model: "ModelProto") -> "ModelProto":
    import onnx

    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def _attr(node: "NodeProto", name: str, default=None):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _set_attr(node: "NodeProto", name: str, value) -> None:
    from onnx import helper

    _drop_attr(node, name)
    node.attribute.append(helper.make_attribute(name, value))


def _drop_attr(node: "NodeProto", name: str) -> None:
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept)


def _is_default_domain(node: "NodeProto") -> bool:
    return node.domain in DEFAULT_DOMAINS


def _add_initializer(model: "ModelProto", taken: set[str], base: str, value: np.ndarray) -> str:
    from onnx import numpy_helper

    name = fresh_name(taken, base)
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def drop_trailing_empty_inputs(model: "ModelProto") -> "ModelProto":
    """Remove trailing ``""`` (omitted optional) inputs: the importer looks each name up."""
    model = _copy(model)
    for node in model.graph.node:
        inputs = list(node.input)
        while inputs and inputs[-1] == "":
            inputs.pop()
        if len(inputs) != len(node.input):
            del node.input[:]
            node.input.extend(inputs)
    return model


def fold_constant_nodes(model: "ModelProto") -> "ModelProto":
    """Turn ``Constant`` nodes into initializers (the importer maps them to a dangling identity)."""
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    model = _copy(model)
    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and _is_default_domain(node):
            (value,) = ReferenceEvaluator(node).run(None, {})
            model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), node.output[0]))
        else:
            kept.append(node)
    replace_nodes(model.graph, kept)
    return model


def _foldable(node: "NodeProto", known: set[str], shapes: dict[str, Shape]) -> bool:
    if not _is_default_domain(node) or node.op_type in _NONDETERMINISTIC:
        return False
    if any(a.g.node or a.graphs for a in node.attribute):
        return False  # control flow: leave it to the importer's verdict
    if node.op_type in ("Shape", "Size") and is_static(shapes.get(node.input[0])):
        return True
    return all(name == "" or name in known for name in node.input)


def fold_constant_subgraphs(model: "ModelProto") -> "ModelProto":
    """Evaluate every node whose inputs are constant (or whose input's shape is static,
    for ``Shape``/``Size``) with ONNX's reference evaluator and store the results as
    initializers - e.g. torch's Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains."""
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    values = inferred_values(model)
    shapes = inferred_shapes(model)
    known = {t.name for t in graph.initializer}
    positions = []
    for position, node in enumerate(graph.node):
        if _foldable(node, known, shapes):
            positions.append(position)
            known.update(node.output)
    if not positions:
        return _copy(model)
    folded = [graph.node[p] for p in positions]
    skipped = set(positions)
    remaining = [n for p, n in enumerate(graph.node) if p not in skipped]
    produced = {name for n in folded for name in n.output}
    needed = sorted(
        {name for n in remaining for name in n.input if name in produced}
        | {o.name for o in graph.output if o.name in produced}
    )
    constants = {t.name for t in graph.initializer}
    read = {name for n in folded for name in n.input}
    # Non-constant tensors only asked for their (static) shape: fed as zeros.
    feeds = {}
    for name in sorted(read - constants - produced - {""}):
        dtype = helper.tensor_dtype_to_np_dtype(values[name].type.tensor_type.elem_type)
        feeds[name] = np.zeros(shapes[name], dtype=dtype)
    results = {}
    if needed:
        inner = helper.make_graph(
            folded,
            "fold",
            [values[name] for name in feeds],
            [helper.make_empty_tensor_value_info(name) for name in needed],
            initializer=[t for t in graph.initializer if t.name in read],
        )
        try:
            evaluated = ReferenceEvaluator(
                helper.make_model(inner, opset_imports=model.opset_import, ir_version=model.ir_version)
            ).run(needed, feeds)
        except Exception as exc:  # noqa: BLE001 - folding is an optimisation; the importer decides
            log.warning("could not fold constant subgraph (%s: %s); left as is", type(exc).__name__, exc)
            return _copy(model)
        results = dict(zip(needed, evaluated))
    model = _copy(model)
    replace_nodes(model.graph, (n for n in model.graph.node if not (set(n.output) & produced)))
    for name, value in results.items():
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    log.info("folded %d constant node(s) into %d initializer(s)", len(folded), len(results))
    return prune_unused_initializers(model)


def prune_unused_initializers(model: "ModelProto") -> "ModelProto":
    """Drop initializers (and their graph-input entries) nothing reads any more."""
    model = _copy(model)
    read = consumers(model.graph)
    kept = [t for t in model.graph.initializer if t.name in read]
    dropped = {t.name for t in model.graph.initializer} - {t.name for t in kept}
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    inputs = [i for i in model.graph.input if i.name not in dropped]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    return model


def complete_clip_bounds(model: "ModelProto") -> "ModelProto":
    """Give every opset>=11 ``Clip`` both bounds as constants: the importer crashes on one-
    input Clips and cannot look up an omitted ``min``."""
    if default_opset(model) < 11:
        return _copy(model)
    model = _copy(model)
    taken = used_names(model.graph)
    params = initializers(model.graph)
    for node in model.graph.node:
        if node.op_type != "Clip" or not _is_default_domain(node):
            continue
        bounds = list(node.input[1:]) + [""] * (3 - len(node.input))
        given = [params[b] for b in bounds if b in params]
        dtype = given[0].dtype if given else np.dtype("float32")
        limits = (np.finfo(dtype).min, np.finfo(dtype).max) if dtype.kind == "f" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        for slot, limit in enumerate(limits):
            if bounds[slot] == "":
                bounds[slot] = _add_initializer(model, taken, f"{node.output[0]}_clip_bound", np.array(limit, dtype=dtype))
        del node.input[1:]
        node.input.extend(bounds)
    return model


def add_missing_gemm_bias(model: "ModelProto") -> "ModelProto":
    """Give a bias-less ``Gemm`` a zero bias: the importer sizes FullyConnected from ``C``."""
    model = _copy(model)
    taken = used_names(model.graph)
    params = initializers(model.graph)
    for node in model.graph.node:
        if node.op_type != "Gemm" or len(node.input) >= 3 or node.input[1] not in params:
            continue
        weight = params[node.input[1]]
        units = weight.shape[0] if _attr(node, "transB", 0) else weight.shape[1]
        node.input.append(_add_initializer(model, taken, f"{node.output[0]}_bias", np.zeros(units, weight.dtype)))
    return model


def explicit_kernel_shape(model: "ModelProto") -> "ModelProto":
    """Write ``kernel_shape`` on Conv/ConvTranspose that omit it (ONNX infers it from the
    weight; the importer requires the attribute)."""
    model = _copy(model)
    params = initializers(model.graph)
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose") and _attr(node, "kernel_shape") is None and node.input[1] in params:
            _set_attr(node, "kernel_shape", [int(d) for d in params[node.input[1]].shape[2:]])
    return model


def fix_legacy_softmax_axis(model: "ModelProto") -> "ModelProto":
    """Keep opset<13 (Log)Softmax semantics, which flatten the input from ``axis`` on into
    one dimension; MXNet instead normalises along a single axis.

    When ``axis`` is the last axis both agree (it is made explicit); otherwise the
    node becomes Reshape(leading dims kept, rest flattened) -> softmax -> Reshape back.
    """
    if default_opset(model) >= 13:
        return _copy(model)
    from onnx import helper

    shapes = inferred_shapes(model)
    model = _copy(model)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in ("Softmax", "LogSoftmax") or not _is_default_domain(node):
            nodes.append(node)
            continue
        shape = shapes.get(node.input[0])
        if shape is None:
            raise ConversionError(
                f"{node.op_type} node {node_label(node, index)}: the rank of its input is unknown, "
                "so its opset<13 semantics cannot be kept; re-export with static shapes or opset >= 13"
            )
        axis = _attr(node, "axis", 1) % len(shape)
        _set_attr(node, "axis", -1)
        if axis == len(shape) - 1:
            nodes.append(node)
            continue
        trailing = shape[axis:]
        if not is_static(trailing):
            raise ConversionError(
                f"{node.op_type} node {node_label(node, index)} normalises over dimensions {axis}.. "
                f"of a tensor with dynamic size there {list(shape)}; re-export with static shapes or opset >= 13"
            )
        flat_shape = _add_initializer(model, taken, f"{node.output[0]}_flat_shape", np.array([0] * axis + [-1], np.int64))
        back_shape = _add_initializer(model, taken, f"{node.output[0]}_shape", np.array([0] * axis + list(trailing), np.int64))
        flat_in, flat_out = fresh_name(taken, f"{node.output[0]}_flat_in"), fresh_name(taken, f"{node.output[0]}_flat_out")
        output = node.output[0]
        nodes.append(helper.make_node("Reshape", [node.input[0], flat_shape], [flat_in]))
        node.input[0], node.output[0] = flat_in, flat_out
        nodes.append(node)
        nodes.append(helper.make_node("Reshape", [flat_out, back_shape], [output]))
    replace_nodes(model.graph, nodes)
    return model


def _slice_arguments(node: "NodeProto", opset: int, params: dict[str, np.ndarray]):
    """``(starts, ends, axes, steps)`` of a Slice, or ``None`` when they are not constant."""
    if opset < 10:
        starts, ends = list(_attr(node, "starts")), list(_attr(node, "ends"))
        return starts, ends, _attr(node, "axes"), [1] * len(starts)
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
    model = _copy(model)
    params = initializers(model.graph)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        arguments = _slice_arguments(node, opset, params) if node.op_type == "Slice" and _is_default_domain(node) else None
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
            name = _add_initializer(model, taken, f"{node.output[0]}_indices_{axis}", indices)
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
    model = _copy(model)
    params = initializers(model.graph)
    taken = used_names(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        indices = params.get(node.input[1]) if node.op_type == "Gather" and _is_default_domain(node) else None
        if indices is None or (indices.ndim > 0 and (indices >= 0).all()):
            nodes.append(node)
            continue
        shape = shapes.get(node.input[0])
        axis = _attr(node, "axis", 0)
        dim = shape[axis] if shape is not None else None
        if dim is None and (indices < 0).any():
            raise ConversionError(f"Gather node {node_label(node, index)} uses negative indices on a dynamic dimension")
        fixed = np.where(indices < 0, indices + (dim or 0), indices).astype(np.int64)
        node.input[1] = _add_initializer(model, taken, f"{node.output[0]}_indices", fixed.reshape(-1) if fixed.ndim == 0 else fixed)
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
        axes = _add_initializer(model, taken, f"{output}_axes", np.array([axis], np.int64))
        return helper.make_node("Squeeze", [source, axes], [output])
    return helper.make_node("Squeeze", [source], [output], axes=[axis])


def axes_inputs_to_attributes(model: "ModelProto") -> "ModelProto":
    """Move constant ``axes`` inputs (Squeeze/Unsqueeze/ReduceSum at opset>=13, other
    Reduce ops at >=18) into the ``axes`` attribute the importer reads, and order
    Unsqueeze axes as non-negative output positions so inserting them one at a time
    (as the importer does) is right."""
    from onnx import helper

    shapes = inferred_shapes(model)
    model = _copy(model)
    params = initializers(model.graph)
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in _AXES_INPUT_SINCE or not _is_default_domain(node):
            nodes.append(node)
            continue
        if len(node.input) > 1 and node.input[1] in params:
            _set_attr(node, "axes", [int(a) for a in params[node.input[1]].reshape(-1)])
            del node.input[1:]
        if node.op_type in _REDUCE_OPS:
            skip_empty = _attr(node, "noop_with_empty_axes", 0)
            _drop_attr(node, "noop_with_empty_axes")
            if skip_empty and _attr(node, "axes") is None and len(node.input) == 1:
                node = helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name)
        if node.op_type == "Unsqueeze" and _attr(node, "axes") is not None:
            _set_attr(node, "axes", _unsqueeze_axes(node, index, _attr(node, "axes"), shapes.get(node.input[0])))
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
    model = _copy(model)
    for node in model.graph.node:
        if node.op_type in _REDUCE_OPS and _is_default_domain(node) and _attr(node, "keepdims") is None:
            _set_attr(node, "keepdims", 1)
    return model


def list_initializers_as_inputs(model: "ModelProto") -> "ModelProto":
    """List every initializer in ``graph.input`` (IR>=4 exporters don't; the importer
    only creates variables for listed inputs and fails with ``KeyError: name``)."""
    from onnx import helper

    model = _copy(model)
    listed = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        if tensor.name not in listed:
            model.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    return model


# Order matters: folding first gives later passes constants to read; the
# attribute-form rewrites come after every pass that needs shape inference.
PASSES: tuple[Pass, ...] = (
    drop_trailing_empty_inputs,
    fold_constant_nodes,
    fold_constant_subgraphs,
    complete_clip_bounds,
    add_missing_gemm_bias,
    explicit_kernel_shape,
    fix_legacy_softmax_axis,
    slice_to_gather,
    normalize_gather_indices,
    axes_inputs_to_attributes,
    explicit_reduce_keepdims,
    list_initializers_as_inputs,
)


def sanitize(model: "ModelProto", passes: Sequence[Pass] = PASSES) -> tuple["ModelProto", list[str]]:
    """Run ``passes`` in order; return the result and the names of the passes that changed it."""
    applied = []
    for rewrite in passes:
        try:
            rewritten = rewrite(model)
        except ArchiverError:
            raise
        except Exception as exc:  # noqa: BLE001 - one line naming the pass, never a traceback
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConversionError(f"sanitizer pass {rewrite.__name__} failed: {type(exc).__name__}: {detail}") from None
        if rewritten != model:
            applied.append(rewrite.__name__)
            log.info("onnx sanitizer: %s rewrote the graph", rewrite.__name__)
        model = rewritten
    return model, applied
