"""Model-level fixes that must come before anything reads shapes."""
from __future__ import annotations

from typing import TYPE_CHECKING

from model_archiver.onnx_import.passes.common import copy_model

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto

# From IR 4 on, initializers need not be listed in graph.input.
_INITIALIZERS_AS_CONSTANTS = 4


def raise_ir_version(model: "ModelProto") -> "ModelProto":
    """Raise IR < 4 to 4.

    Below IR 4, ONNX shape inference ignores initializers not listed in
    ``graph.input``; folding creates exactly those (e.g. the model zoo's
    ConstantOfShape weights), so every later shape would be unknown. IR 4 only
    relaxes that rule, so the graph means the same.
    """
    if model.ir_version >= _INITIALIZERS_AS_CONSTANTS:
        return model
    model = copy_model(model)
    model.ir_version = _INITIALIZERS_AS_CONSTANTS
    return model
