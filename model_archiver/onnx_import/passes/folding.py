"""Constant folding: ``Constant`` nodes and constant subgraphs become initializers."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from model_archiver.onnx_import.graph import (
    Shape,
    inferred_shapes,
    inferred_values,
    is_static,
    replace_nodes,
)
from model_archiver.onnx_import.passes.weights import is_detached
from model_archiver.onnx_import.passes.common import (
    copy_model,
    is_default_domain,
    prune_unused_initializers,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto, NodeProto

log = logging.getLogger(__name__)

# Ops whose result is not a function of their inputs: never folded.
_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}

def drop_trailing_empty_inputs(model: "ModelProto") -> "ModelProto":
    """Remove trailing ``""`` (omitted optional) inputs: the importer looks each name up."""
    model = copy_model(model)
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

    model = copy_model(model)
    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and is_default_domain(node):
            (value,) = ReferenceEvaluator(node).run(None, {})
            model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), node.output[0]))
        else:
            kept.append(node)
    replace_nodes(model.graph, kept)
    return model

def _foldable(node: "NodeProto", known: set[str], shapes: dict[str, Shape]) -> bool:
    if not is_default_domain(node) or node.op_type in _NONDETERMINISTIC:
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
    # Detached weights are not "known": folding never evaluates weight-sized tensors.
    constants = {t.name for t in graph.initializer if not is_detached(t)}
    known = set(constants)
    positions = []
    for position, node in enumerate(graph.node):
        if _foldable(node, known, shapes):
            positions.append(position)
            known.update(node.output)
    if not positions:
        return copy_model(model)
    folded = [graph.node[p] for p in positions]
    skipped = set(positions)
    remaining = [n for p, n in enumerate(graph.node) if p not in skipped]
    if not remaining:
        # A graph without nodes no longer binds in MXNet (e.g. Shape(x) alone): keep it.
        return copy_model(model)
    produced = {name for n in folded for name in n.output}
    needed = sorted(
        {name for n in remaining for name in n.input if name in produced}
        | {o.name for o in graph.output if o.name in produced}
    )
    read = {name for n in folded for name in n.input}
    # Non-constant tensors (and weights) only asked for their static shape: fed as zeros.
    types = {t.name: t.data_type for t in graph.initializer}
    types.update((name, info.type.tensor_type.elem_type) for name, info in values.items())
    feeds = {}
    for name in sorted(read - constants - produced - {""}):
        feeds[name] = np.zeros(shapes[name], dtype=helper.tensor_dtype_to_np_dtype(types[name]))
    results = {}
    if needed:
        inner = helper.make_graph(
            folded,
            "fold",
            [helper.make_tensor_value_info(name, types[name], list(feeds[name].shape)) for name in feeds],
            [helper.make_empty_tensor_value_info(name) for name in needed],
            initializer=[t for t in graph.initializer if t.name in read and t.name in constants],
        )
        try:
            evaluated = ReferenceEvaluator(
                helper.make_model(inner, opset_imports=model.opset_import, ir_version=model.ir_version)
            ).run(needed, feeds)
        except Exception as exc:  # noqa: BLE001 - folding is an optimisation; the importer decides
            log.warning("could not fold constant subgraph (%s: %s); left as is", type(exc).__name__, exc)
            return copy_model(model)
        results = dict(zip(needed, evaluated))
    model = copy_model(model)
    replace_nodes(model.graph, (n for n in model.graph.node if not (set(n.output) & produced)))
    for name, value in results.items():
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    log.info("folded %d constant node(s) into %d initializer(s)", len(folded), len(results))
    return prune_unused_initializers(model)
