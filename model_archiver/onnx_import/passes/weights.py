"""Weights out of the way: passes work on a skeleton whose large initializers carry only
their name, dtype and dims.

Every pass copies the model and several run ONNX shape inference, which
serializes it; with vgg19's 548 MB of weights that made conversion take minutes.
A detached weight is an initializer marked as external data (so shape
inference still sees its shape) whose bytes wait in a side table until
:func:`attach_weights` puts them back. Large tensors are never folded: constant
folding is for shape arithmetic, not for evaluating weights.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto, TensorProto

# Tensors with more elements than this are weights (shape operands have a handful).
WEIGHT_ELEMENTS = 4096
_MARK = "model-archiver:detached"


def is_detached(tensor: "TensorProto") -> bool:
    """True for a placeholder left by :func:`detach_weights`."""
    return any(entry.key == "location" and entry.value == _MARK for entry in tensor.external_data)


def _elements(tensor: "TensorProto") -> int:
    count = 1
    for dim in tensor.dims:
        count *= dim
    return count


def detach_weights(model: "ModelProto", store: dict[str, "TensorProto"]) -> None:
    """Move the bytes of every large initializer of ``model`` (in place) into ``store``."""
    import onnx

    for tensor in model.graph.initializer:
        if _elements(tensor) <= WEIGHT_ELEMENTS or is_detached(tensor):
            continue
        kept = onnx.TensorProto()
        kept.CopyFrom(tensor)
        store[tensor.name] = kept
        tensor.CopyFrom(_placeholder(tensor))


def skeleton(model: "ModelProto", store: dict[str, "TensorProto"]) -> "ModelProto":
    """A copy of ``model`` with its large initializers detached into ``store``, made without
    copying their bytes (``store`` refers to ``model``'s own tensors: don't modify it)."""
    import onnx

    copy = _copy_except(model, "graph")
    copy.graph.CopyFrom(_copy_except(model.graph, "initializer"))
    for tensor in model.graph.initializer:
        if _elements(tensor) > WEIGHT_ELEMENTS:
            store[tensor.name] = tensor
            copy.graph.initializer.append(_placeholder(tensor))
        else:
            copy.graph.initializer.append(tensor)
    return copy


def _placeholder(tensor: "TensorProto") -> "TensorProto":
    import onnx

    placeholder = onnx.TensorProto(name=tensor.name, data_type=tensor.data_type, dims=list(tensor.dims))
    placeholder.data_location = onnx.TensorProto.EXTERNAL
    placeholder.external_data.add(key="location", value=_MARK)
    return placeholder


def _copy_except(message, skipped: str):
    """A copy of a protobuf message without one (large) field."""
    copy = type(message)()
    for field, value in message.ListFields():
        if field.name == skipped:
            continue
        if isinstance(value, (list, tuple)) or hasattr(value, "extend"):
            getattr(copy, field.name).extend(value)
        elif field.message_type is not None:
            getattr(copy, field.name).CopyFrom(value)
        else:
            setattr(copy, field.name, value)
    return copy


def attach_weights(model: "ModelProto", store: dict[str, "TensorProto"]) -> None:
    """Put the bytes of every placeholder in ``model`` (in place) back from ``store``."""
    for tensor in model.graph.initializer:
        if is_detached(tensor):
            tensor.CopyFrom(store[tensor.name])
