"""Converted symbols stay batch-agnostic, so MMS can bind them at its own batch size."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model_archiver.onnx_import.graph import inferred_shapes, initializers, used_names
from model_archiver.onnx_import.passes.common import add_initializer, attr, copy_model, is_default_domain, prune_unused_initializers

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto


def batch_agnostic_reshape(model: "ModelProto") -> "ModelProto":
    """A constant Reshape target whose first entry equals its input's first dim becomes ``0``
    ("copy that dim", the same in ONNX and MXNet).

    Folding torch's flatten chain at the export batch bakes that batch into the
    target (``[1, 2048]``); with ``0`` the symbol binds at any batch size.
    """
    shapes = inferred_shapes(model)
    params = initializers(model.graph)
    model = copy_model(model)
    taken = used_names(model.graph)
    changed = False
    for node in model.graph.node:
        if node.op_type != "Reshape" or not is_default_domain(node) or attr(node, "allowzero", 0):
            continue
        target = params.get(node.input[1]) if len(node.input) > 1 else None
        shape = shapes.get(node.input[0])
        if target is None or target.ndim != 1 or not target.size or not shape or shape[0] is None:
            continue
        if int(target[0]) != shape[0] or int(target[0]) == 0:
            continue
        fixed = target.astype(np.int64).copy()
        fixed[0] = 0
        node.input[1] = add_initializer(model, taken, f"{node.output[0]}_shape", fixed)
        changed = True
    return prune_unused_initializers(model) if changed else model
