"""AveragePool and LpPool with ONNX's padding semantics.

MXNet's importer pads average pools with zeros and then divides by the full
kernel size, which is ONNX's ``count_include_pad=1``; ONNX's default ``0``
divides by the number of real elements. Here a padded window's average is
``avgpool(pad(x)) / avgpool(pad(ones))``: both count the same window size,
so the ratio is sum over real elements / number of real elements. LpPool takes
``|x|`` first (MXNet's lp pooling raises x itself to the power p).
"""
from __future__ import annotations

from typing import Any

from model_archiver.onnx_import.translations.common import Untranslatable, text

# MXNet's Pooling implements lp pooling for these p only.
_LP_VALUES = (1, 2, 3)


def _window(attrs: dict) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], str]:
    """kernel, strides, ONNX pads and MXNet pooling convention; refuses what MXNet lacks."""
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    if text(attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
        raise Untranslatable(f"auto_pad={text(attrs['auto_pad'])} is not supported; re-export with explicit pads")
    if any(int(d) != 1 for d in attrs.get("dilations", ())):
        raise Untranslatable(f"dilations {tuple(attrs['dilations'])} have no MXNet pooling equivalent")
    if len(kernel) not in (1, 2, 3):
        raise Untranslatable(f"{len(kernel)}-D pooling is not supported by MXNet")
    strides = tuple(int(s) for s in attrs.get("strides", (1,) * len(kernel)))
    pads = tuple(int(p) for p in attrs.get("pads", (0,) * 2 * len(kernel)))
    convention = "full" if int(attrs.get("ceil_mode", 0)) else "valid"
    return kernel, strides, pads, convention


def _pooled(symbol, data, kernel, strides, pads, convention, pool_type: str, **extra):
    """Pool ``data`` after padding it with zeros (MXNet's ``pad`` takes 4-D/5-D tensors only,
    so 1-D pooling runs as 2-D on an inserted axis)."""
    one_d = len(kernel) == 1
    if one_d:
        data = symbol.expand_dims(data, axis=2)
        kernel, strides, pads = (1, *kernel), (1, *strides), (0, pads[0], 0, pads[1])
    rank = len(kernel)
    if any(pads):
        width = (0, 0, 0, 0) + tuple(v for axis in range(rank) for v in (pads[axis], pads[axis + rank]))
        data = symbol.pad(data, mode="constant", constant_value=0, pad_width=width)
    pooled = symbol.Pooling(data, kernel=kernel, stride=strides, pool_type=pool_type,
                            pooling_convention=convention, **extra)
    return symbol.squeeze(pooled, axis=2) if one_d else pooled


def average_pool(attrs: dict, inputs: list, graph: Any) -> tuple:
    from mxnet import symbol

    kernel, strides, pads, convention = _window(attrs)
    data = inputs[0]
    total = _pooled(symbol, data, kernel, strides, pads, convention, "avg", count_include_pad=True)
    if not any(pads) or int(attrs.get("count_include_pad", 0)):
        return total, attrs, inputs
    counted = _pooled(symbol, symbol.ones_like(data), kernel, strides, pads, convention, "avg", count_include_pad=True)
    return symbol.broadcast_div(total, counted), attrs, inputs


def lp_pool(attrs: dict, inputs: list, graph: Any) -> tuple:
    from mxnet import symbol

    p = int(attrs.get("p", 2))
    if p not in _LP_VALUES:
        raise Untranslatable(f"p={p}: MXNet's lp pooling supports p in {_LP_VALUES}")
    kernel, strides, pads, convention = _window(attrs)
    return _pooled(symbol, symbol.abs(inputs[0]), kernel, strides, pads, convention, "lp", p_value=p), attrs, inputs


def global_lp_pool(attrs: dict, inputs: list, graph: Any) -> tuple:
    from mxnet import symbol

    p = int(attrs.get("p", 2))
    if p not in _LP_VALUES:
        raise Untranslatable(f"p={p}: MXNet's lp pooling supports p in {_LP_VALUES}")
    pooled = symbol.Pooling(symbol.abs(inputs[0]), kernel=(1, 1), global_pool=True, pool_type="lp", p_value=p)
    return pooled, attrs, inputs


def max_pool(attrs: dict, inputs: list, graph: Any) -> tuple:
    """The importer's own MaxPool (edge padding is right for a max), after refusing what it
    silently ignores: ``auto_pad=SAME_*`` and dilations."""
    from mxnet.contrib.onnx.onnx2mx._op_translations import max_pooling

    _window(attrs)
    if int(attrs.get("storage_order", 0)):
        raise Untranslatable("storage_order=1 (column-major indices) has no MXNet equivalent")
    return max_pooling({k: v for k, v in attrs.items() if k not in ("auto_pad", "dilations", "ceil_mode")},
                       inputs, graph) if not int(attrs.get("ceil_mode", 0)) else _ceil_max_pool(attrs, inputs)


def _ceil_max_pool(attrs: dict, inputs: list) -> tuple:
    from mxnet import symbol

    kernel, strides, pads, convention = _window(attrs)
    if any(pads):
        raise Untranslatable("ceil_mode=1 with pads is not supported")
    return symbol.Pooling(inputs[0], kernel=kernel, stride=strides, pool_type="max",
                          pooling_convention=convention), attrs, inputs


TRANSLATIONS = {"AveragePool": average_pool, "LpPool": lp_pool, "GlobalLpPool": global_lp_pool, "MaxPool": max_pool}
