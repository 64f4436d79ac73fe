"""ConvTranspose with ONNX's output cropping.

ONNX's ``pads`` on a transposed convolution *remove* rows from the full
output; the importer instead pads the input, which grows it. Here the full
``Deconvolution`` output (plus ``output_padding`` via MXNet's ``adj``) is
cropped by ``pads`` with ``slice_axis``, asymmetric pads included.
``output_shape``/``auto_pad`` were turned into pads by the sanitizer
(``operands.explicit_conv_transpose_pads``), which knows the input's size.
"""
from __future__ import annotations

from typing import Any

from model_archiver.onnx_import.translations.common import Untranslatable, constant_operand, text


def conv_transpose(attrs: dict, inputs: list, graph: Any) -> tuple:
    from mxnet import symbol

    weight = constant_operand(graph, inputs[1], "weight")
    kernel = tuple(int(k) for k in attrs.get("kernel_shape", weight.shape[2:]))
    rank = len(kernel)
    if text(attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID") or "output_shape" in attrs:
        raise Untranslatable("output_shape/auto_pad need the input's static size; re-export with explicit pads")
    group = int(attrs.get("group", 1))
    strides = tuple(int(s) for s in attrs.get("strides", (1,) * rank))
    dilations = tuple(int(d) for d in attrs.get("dilations", (1,) * rank))
    pads = tuple(int(p) for p in attrs.get("pads", (0,) * 2 * rank))
    adjust = tuple(int(a) for a in attrs.get("output_padding", (0,) * rank))
    if any(a >= max(s, d) for a, s, d in zip(adjust, strides, dilations)):
        raise Untranslatable(f"output_padding {adjust} must be smaller than strides {strides} or dilations")
    result = symbol.Deconvolution(
        inputs[0], inputs[1], *(inputs[2:3]), kernel=kernel, stride=strides, dilate=dilations, adj=adjust,
        num_filter=int(weight.shape[1]) * group, num_group=group, no_bias=len(inputs) < 3,
    )
    for axis in range(rank):
        begin, end = pads[axis], pads[axis + rank]
        if begin or end:
            result = symbol.slice_axis(result, axis=axis + 2, begin=begin, end=-end if end else None)
    return result, attrs, inputs


TRANSLATIONS = {"ConvTranspose": conv_transpose}
