"""What MXNet's ONNX importer can translate, checked before any conversion is attempted.

The op table is read from the installed MXNet's source (``_import_helper.py``)
with ``ast`` rather than by importing MXNet: it stays exact for whatever MXNet
is installed and costs milliseconds instead of MXNet's multi-second import.
"""
from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from model_archiver.errors import ConversionError
from model_archiver.onnx_import.graph import DEFAULT_DOMAINS, default_opset, node_label

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto

_HELPER = ("contrib", "onnx", "onnx2mx", "_import_helper.py")

# Operands the importer reads from the weights at conversion time (it looks them
# up in its parameter table), so they must be initializers, keyed by op and the
# opset from which the operand is an input rather than an attribute.
_CONSTANT_OPERANDS: dict[str, tuple[int, tuple[int, ...]]] = {
    "Conv": (1, (1,)),
    "ConvTranspose": (1, (1,)),
    "Gemm": (1, (2,)),
    "Reshape": (5, (1,)),
    "Pad": (11, (1, 2)),
    "Clip": (11, (1, 2)),
    "Dropout": (12, (1,)),
    "TopK": (10, (1,)),
    "Slice": (10, (1, 2, 3, 4)),
    "Squeeze": (13, (1,)),
    "Unsqueeze": (13, (1,)),
    "Tile": (6, (1,)),
    "Split": (13, (1,)),
}


def importer_ops() -> frozenset[str]:
    """ONNX op types the installed MXNet importer, with this package's translations added, converts."""
    from model_archiver.onnx_import.translations import TRANSLATIONS

    return _mxnet_ops() | frozenset(TRANSLATIONS)


@lru_cache(maxsize=1)
def _mxnet_ops() -> frozenset[str]:
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError("converting ONNX to MXNet needs MXNet: pip install 'mxnet==1.9.1'")
    source = Path(next(iter(spec.submodule_search_locations)), *_HELPER)
    try:
        tree = ast.parse(source.read_text("utf-8"))
    except OSError as exc:
        raise ConversionError(f"this MXNet has no ONNX importer ({source} unreadable: {exc.strerror})") from None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_convert_map" for t in statement.targets
        ):
            return frozenset(k.value for k in statement.value.keys if isinstance(k, ast.Constant))
    raise ConversionError(f"could not find MXNet's ONNX op table in {source}")


def unsupported_nodes(model: "ModelProto") -> list[str]:
    """One ``op (node …)`` entry per node the importer cannot translate, in graph order."""
    supported = importer_ops()
    found = []
    for index, node in enumerate(model.graph.node):
        if node.domain not in DEFAULT_DOMAINS:
            found.append(f"{node.domain}:{node.op_type} (node {node_label(node, index)})")
        elif node.op_type not in supported:
            found.append(f"{node.op_type} (node {node_label(node, index)})")
    return found


def runtime_operands(model: "ModelProto") -> list[str]:
    """Operands the importer needs as constants but which are computed at run time."""
    opset = default_opset(model)
    constants = {t.name for t in model.graph.initializer}
    found = []
    for index, node in enumerate(model.graph.node):
        since, slots = _CONSTANT_OPERANDS.get(node.op_type, (0, ()))
        if opset < since:
            continue
        for slot in slots:
            if slot < len(node.input) and node.input[slot] and node.input[slot] not in constants:
                found.append(f"{node.op_type} node {node_label(node, index)} input {slot} ('{node.input[slot]}')")
    return found


def check_importable(model: "ModelProto") -> None:
    """Raise :class:`ConversionError` naming every op and operand MXNet cannot import."""
    unsupported = unsupported_nodes(model)
    if unsupported:
        shown = ", ".join(unsupported[:8]) + (f" and {len(unsupported) - 8} more" if len(unsupported) > 8 else "")
        raise ConversionError(f"MXNet's ONNX importer does not support: {shown}; serve the .onnx with OnnxRuntimeService instead")
    computed = runtime_operands(model)
    if computed:
        raise ConversionError(
            f"{computed[0]} is computed at run time but MXNet needs it constant"
            f"{f' (and {len(computed) - 1} more)' if len(computed) > 1 else ''}; "
            "re-export the model with static input shapes, or fix a symbolic batch with --input-shape NAME=1,..."
        )
