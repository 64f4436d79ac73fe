"""ArgMax/ArgMin with ``select_last_index``.

MXNet returns the first extreme index; the last one is the first of the
reversed axis, counted from the end: ``size - 1 - argmax(reverse(x))``.
"""
from __future__ import annotations

from typing import Any


def _arg(kind: str):
    def translate(attrs: dict, inputs: list, graph: Any) -> tuple:
        from mxnet import symbol

        axis, keepdims = int(attrs.get("axis", 0)), bool(int(attrs.get("keepdims", 1)))
        pick = getattr(symbol, kind)
        data = inputs[0]
        if not int(attrs.get("select_last_index", 0)):
            return symbol.cast(pick(data, axis=axis, keepdims=keepdims), dtype="int64"), attrs, inputs
        first = symbol.cast(pick(symbol.reverse(data, axis=axis), axis=axis, keepdims=keepdims), dtype="int64")
        size = symbol.slice_axis(symbol.shape_array(data), axis=0, begin=axis, end=(axis + 1) or None)
        return symbol.broadcast_sub(size - 1, first), attrs, inputs

    translate.__name__ = kind
    return translate


TRANSLATIONS = {"ArgMax": _arg("argmax"), "ArgMin": _arg("argmin")}
