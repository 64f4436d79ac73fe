"""Tensor-shaping ops: Tile (as concatenations) and Split with sizes.

MXNet's ``tile`` fails beyond rank 2 ("too many reduction axes": it works on
twice the rank), so each repeated axis becomes a ``concat`` of copies. The
importer's ``Split`` counts the *graph's* outputs and refuses unequal sizes;
here each part is a ``slice_axis`` of the node's own sizes.
"""
from __future__ import annotations

from typing import Any

from model_archiver.onnx_import.translations.common import Untranslatable, constant_operand


def tile(attrs: dict, inputs: list, graph: Any) -> tuple:
    from mxnet import symbol

    repeats = [int(r) for r in constant_operand(graph, inputs[1], "repeats input").reshape(-1)]
    result = inputs[0]
    for axis, count in enumerate(repeats):
        if count != 1:
            result = symbol.concat(*([result] * count), dim=axis)
    return (symbol.identity(result) if result is inputs[0] else result), attrs, inputs


def split(attrs: dict, inputs: list, graph: Any) -> tuple:
    from mxnet import symbol

    axis = int(attrs.get("axis", 0))
    parts = len(graph.current_node.output)
    if len(inputs) > 1:
        sizes = [int(s) for s in constant_operand(graph, inputs[1], "split input").reshape(-1)]
    else:
        sizes = [int(s) for s in attrs.get("split", ())]
    if not sizes:
        return symbol.split(inputs[0], axis=axis, num_outputs=parts, squeeze_axis=False), attrs, inputs
    if len(sizes) != parts:
        raise Untranslatable(f"{len(sizes)} split sizes for {parts} outputs")
    starts = [sum(sizes[:i]) for i in range(parts)]
    pieces = [symbol.slice_axis(inputs[0], axis=axis, begin=b, end=b + n) for b, n in zip(starts, sizes)]
    return symbol.Group(pieces), attrs, inputs


TRANSLATIONS = {"Tile": tile, "Split": split}
