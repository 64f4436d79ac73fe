"""ONNX graphs built with ``onnx.helper`` the way real exporters write them.

"Torch style" means what torch.onnx / tf2onnx / paddle2onnx produce and MXNet's
importer trips on: weights as initializers *not* listed in ``graph.input``
(IR >= 4), ``Constant`` nodes for small operands, shape arithmetic
(Shape -> Gather -> Unsqueeze -> Concat -> Reshape) for flattening, axes as
inputs at opset >= 13. Weights are random but fixed by a seed; BatchNorm gets
non-trivial running statistics so losing them shows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 3
INT64_MAX = np.iinfo(np.int64).max


def _rng(seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


def _weight(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def _constant(output: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [output], value=_weight(output + "_value", np.asarray(array)))


def _model(nodes, inputs, outputs, initializers, opset: int, ir_version: int = 8) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "torch_style", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tests")
    model.ir_version = ir_version
    return model


def _float_input(name: str, dims: Sequence[Optional[object]]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def conv_bn_flatten(opset: int = 13, batch: object = 1) -> onnx.ModelProto:
    """Conv -> BatchNorm (real statistics) -> Relu -> torch-style flatten -> Gemm -> Relu6 (Clip).

    ``batch`` may be a symbolic name (e.g. ``"N"``) for a dynamic batch.
    """
    rng = _rng()
    channels = 4
    weights = [
        _weight("conv.weight", rng.normal(0, 0.5, (channels, 2, 3, 3)).astype("float32")),
        _weight("conv.bias", rng.normal(0, 0.1, channels).astype("float32")),
        _weight("bn.weight", rng.uniform(0.5, 1.5, channels).astype("float32")),
        _weight("bn.bias", rng.normal(0, 0.5, channels).astype("float32")),
        _weight("bn.running_mean", rng.normal(2.0, 1.0, channels).astype("float32")),
        _weight("bn.running_var", rng.uniform(0.2, 4.0, channels).astype("float32")),
        _weight("fc.weight", rng.normal(0, 0.2, (3, channels * 6 * 6)).astype("float32")),
        _weight("fc.bias", rng.normal(0, 0.1, 3).astype("float32")),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], name="/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node(
            "BatchNormalization",
            ["c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
            ["b"], name="/bn/BatchNormalization", epsilon=1e-5, momentum=0.9,
        ),
        helper.make_node("Relu", ["b"], ["r"], name="/relu/Relu"),
        helper.make_node("Shape", ["r"], ["shape"], name="/Shape"),
        _constant("zero", np.array(0, dtype=np.int64)),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="/Gather", axis=0),
        _constant("unsqueeze_axes", np.array([0], dtype=np.int64)),
        _unsqueeze(["batch", "unsqueeze_axes"], "batch_1d", [0], opset),
        _constant("minus_one", np.array([-1], dtype=np.int64)),
        helper.make_node("Concat", ["batch_1d", "minus_one"], ["flat_shape"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["r", "flat_shape"], ["flat"], name="/Reshape"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm", transB=1),
        _constant("six", np.array(6.0, dtype=np.float32)),
        _constant("nothing", np.array(0.0, dtype=np.float32)),
        helper.make_node("Clip", ["logits", "nothing", "six"], ["output"], name="/Clip"),
    ]
    return _model(nodes, [_float_input("input", [batch, 2, 6, 6])], [_float_input("output", [batch, 3])], weights, opset)


def _unsqueeze(inputs: list[str], output: str, axes: list[int], opset: int) -> onnx.NodeProto:
    if opset >= 13:
        return helper.make_node("Unsqueeze", inputs, [output])
    return helper.make_node("Unsqueeze", inputs[:1], [output], axes=axes)


def slices(opset: int = 13) -> onnx.ModelProto:
    """Slices as torch writes them: constant starts/ends/axes/steps inputs, INT64_MAX ends,
    negative starts, a stride and a reversal; then a scalar-index Gather (``x[:, -1]``)."""
    rng = _rng()
    nodes = [
        _constant("starts", np.array([1, -4], dtype=np.int64)),
        _constant("ends", np.array([INT64_MAX, -1], dtype=np.int64)),
        _constant("axes", np.array([1, 2], dtype=np.int64)),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["a"], name="/Slice"),
        _constant("starts2", np.array([0, -1], dtype=np.int64)),
        _constant("ends2", np.array([INT64_MAX, -INT64_MAX], dtype=np.int64)),
        _constant("axes2", np.array([-1, 2], dtype=np.int64)),
        _constant("steps2", np.array([2, -1], dtype=np.int64)),
        helper.make_node("Slice", ["a", "starts2", "ends2", "axes2", "steps2"], ["b"], name="/Slice_1"),
        helper.make_node("Mul", ["b", "scale"], ["c"], name="/Mul"),
        _constant("last", np.array(-1, dtype=np.int64)),
        helper.make_node("Gather", ["c", "last"], ["y"], name="/Gather", axis=1),
    ]
    weights = [_weight("scale", rng.normal(1.0, 0.5, (1, 1, 1, 4)).astype("float32"))]
    return _model(nodes, [_float_input("x", [1, 4, 6, 8])], [_float_input("y", [1, 3, 4])], weights, opset)


def squeeze_unsqueeze(opset: int = 13) -> onnx.ModelProto:
    """Squeeze/Unsqueeze/ReduceSum with axes as (Constant) inputs and negative axes."""
    rng = _rng()
    nodes = [
        _constant("axes_sq", np.array([2], dtype=np.int64)),
        helper.make_node("Squeeze", ["x", "axes_sq"], ["s"], name="/Squeeze"),
        _constant("axes_sum", np.array([-1], dtype=np.int64)),
        helper.make_node("ReduceSum", ["s", "axes_sum"], ["r"], name="/ReduceSum", keepdims=0),
        helper.make_node("Mul", ["r", "w"], ["m"], name="/Mul"),
        _constant("axes_unsq", np.array([-1, 1], dtype=np.int64)),
        helper.make_node("Unsqueeze", ["m", "axes_unsq"], ["y"], name="/Unsqueeze"),
    ]
    weights = [_weight("w", rng.normal(0, 1, (3,)).astype("float32"))]
    return _model(nodes, [_float_input("x", [2, 3, 1, 5])], [_float_input("y", [2, 1, 3, 1])], weights, opset)


def reduce_mean_axes_input(opset: int = 18) -> onnx.ModelProto:
    """Opset-18 ReduceMean with axes as an input and the default keepdims."""
    nodes = [
        _constant("axes", np.array([2, 3], dtype=np.int64)),
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], name="/ReduceMean"),
        helper.make_node("Sub", ["x", "m"], ["y"], name="/Sub"),
    ]
    return _model(nodes, [_float_input("x", [1, 3, 4, 5])], [_float_input("y", [1, 3, 4, 5])], [], opset)


def softmax_4d(opset: int = 11) -> onnx.ModelProto:
    """A 1x1 Conv then Softmax with ``axis=1`` on 4-D input: at opset < 13 that normalises
    over C*H*W together, not over C."""
    rng = _rng()
    weights = [_weight("w", rng.normal(0, 1, (3, 2, 1, 1)).astype("float32"))]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv", kernel_shape=[1, 1]),
        helper.make_node("Softmax", ["c"], ["y"], name="/Softmax", axis=1),
    ]
    return _model(nodes, [_float_input("x", [1, 2, 4, 5])], [_float_input("y", [1, 3, 4, 5])], weights, opset)


def dynamic_batch_mlp(opset: int = 13) -> onnx.ModelProto:
    """``["batch", 4] -> Gemm -> Softmax``: a model any batch size can run."""
    rng = _rng()
    weights = [
        _weight("fc.weight", rng.normal(0, 1, (3, 4)).astype("float32")),
        _weight("fc.bias", rng.normal(0, 0.1, 3).astype("float32")),
    ]
    nodes = [
        helper.make_node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm", transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="/Softmax", axis=-1),
    ]
    return _model(nodes, [_float_input("features", ["batch", 4])], [_float_input("probabilities", ["batch", 3])], weights, opset)


def dynamic_spatial(opset: int = 13) -> onnx.ModelProto:
    """A conv net whose input height and width are symbolic."""
    model = conv_bn_flatten(opset)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    return model


def unsupported_op(opset: int = 13) -> onnx.ModelProto:
    """A valid ONNX graph using ``Einsum``, which MXNet's importer lacks."""
    nodes = [helper.make_node("Einsum", ["x", "x"], ["y"], name="/Einsum", equation="ij,jk->ik")]
    return _model(nodes, [_float_input("x", [3, 3])], [_float_input("y", [3, 3])], [], opset)


def unknown_op(opset: int = 13) -> onnx.ModelProto:
    """A graph whose node names an op ONNX does not define."""
    nodes = [helper.make_node("Frobnicate", ["x"], ["y"], name="/Frobnicate")]
    return _model(nodes, [_float_input("x", [3])], [_float_input("y", [3])], [], opset)


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Write ``model`` to ``path`` (no checks: malformed models are written as they are)."""
    path.write_bytes(model.SerializeToString())
    return path
