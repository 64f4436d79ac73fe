"""Helpers every pass shares: copying a model, reading and writing attributes, adding
and pruning initializers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from model_archiver.onnx_import.graph import (
    DEFAULT_DOMAINS,
    consumers,
    fresh_name,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto, NodeProto

Pass = Callable[["ModelProto"], "ModelProto"]

def copy_model(model: "ModelProto") -> "ModelProto":
    import onnx

    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone

def attr(node: "NodeProto", name: str, default=None):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default

def set_attr(node: "NodeProto", name: str, value) -> None:
    from onnx import helper

    drop_attr(node, name)
    node.attribute.append(helper.make_attribute(name, value))

def drop_attr(node: "NodeProto", name: str) -> None:
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept)

def is_default_domain(node: "NodeProto") -> bool:
    return node.domain in DEFAULT_DOMAINS

def add_initializer(model: "ModelProto", taken: set[str], base: str, value: np.ndarray) -> str:
    from onnx import numpy_helper

    name = fresh_name(taken, base)
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name

def prune_unused_initializers(model: "ModelProto") -> "ModelProto":
    """Drop initializers (and their graph-input entries) nothing reads any more."""
    model = copy_model(model)
    read = consumers(model.graph)
    kept = [t for t in model.graph.initializer if t.name in read]
    dropped = {t.name for t in model.graph.initializer} - {t.name for t in kept}
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    inputs = [i for i in model.graph.input if i.name not in dropped]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    return model
