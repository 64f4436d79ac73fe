"""Element-wise ops the importer lacks: Erf, Sign, Shrink, hyperbolic functions, HardSwish,
Celu, Gelu, and Where with ONNX broadcasting."""
from __future__ import annotations

from typing import Any

from model_archiver.onnx_import.translations.common import text


def erf(attrs: dict, inputs: list, graph: Any) -> tuple:
    return "erf", {}, inputs


def sign(attrs: dict, inputs: list, graph: Any) -> tuple:
    return "sign", {}, inputs


def shrink(attrs: dict, inputs: list, graph: Any) -> tuple:
    """``x + bias`` below ``-lambd``, ``x - bias`` above ``lambd``, 0 between."""
    lambd, bias = float(attrs.get("lambd", 0.5)), float(attrs.get("bias", 0.0))
    data = inputs[0]
    low, high = data < -lambd, data > lambd
    return low * (data + bias) + high * (data - bias), attrs, inputs


def where(attrs: dict, inputs: list, graph: Any) -> tuple:
    """MXNet's ``where`` wants equal shapes: each operand is first broadcast to the common
    shape by adding the sum of all three's zeros (``broadcast_add`` aligns ranks like ONNX;
    zeros cannot turn inf/nan into nan)."""
    from mxnet import symbol

    condition, left, right = inputs
    condition = symbol.cast(condition, dtype="float32")
    common = symbol.broadcast_add(symbol.broadcast_add(symbol.zeros_like(left), symbol.zeros_like(right)),
                                  symbol.zeros_like(condition))
    spread = [symbol.broadcast_add(operand, common) for operand in (condition, left, right)]
    return symbol.where(*spread), attrs, inputs


def _unary(name: str):
    def translate(attrs: dict, inputs: list, graph: Any) -> tuple:
        return name, {}, inputs

    translate.__name__ = name
    return translate


def hard_swish(attrs: dict, inputs: list, graph: Any) -> tuple:
    """``x * max(0, min(1, x/6 + 1/2))``."""
    from mxnet import symbol

    data = inputs[0]
    return data * symbol.clip(data / 6.0 + 0.5, 0.0, 1.0), attrs, inputs


def celu(attrs: dict, inputs: list, graph: Any) -> tuple:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    from mxnet import symbol

    alpha = float(attrs.get("alpha", 1.0))
    data = inputs[0]
    return symbol.relu(data) + symbol.minimum(0.0, alpha * (symbol.exp(data / alpha) - 1.0)), attrs, inputs


def gelu(attrs: dict, inputs: list, graph: Any) -> tuple:
    """Exact ``x/2 * (1 + erf(x/sqrt 2))`` or, with ``approximate=tanh``, the tanh formula."""
    from mxnet import symbol

    data = inputs[0]
    if text(attrs.get("approximate", "none")) == "tanh":
        inner = 0.7978845608028654 * (data + 0.044715 * data * data * data)
        return 0.5 * data * (1.0 + symbol.tanh(inner)), attrs, inputs
    return 0.5 * data * (1.0 + symbol.erf(data * 0.7071067811865476)), attrs, inputs


TRANSLATIONS = {
    "Erf": erf, "Sign": sign, "Shrink": shrink, "Where": where, "HardSwish": hard_swish, "Celu": celu, "Gelu": gelu,
    "Sinh": _unary("sinh"), "Cosh": _unary("cosh"), "Asinh": _unary("arcsinh"), "Acosh": _unary("arccosh"),
    "Atanh": _unary("arctanh"),
}
