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


# -- models for the semantics the importer used to get wrong, and ops it lacked ----------------

def light_model(name: str, seed: int = SEED) -> onnx.ModelProto:
    """A model-zoo architecture from the onnx wheel's ``light/`` test data (e.g. ``shufflenet``)
    with *random weights* (He-scaled normal, 1-D tensors uniform in [0.5, 1.5)) in place of
    the ``ConstantOfShape`` nodes the file ships, listed as IR-3 graph inputs as the zoo did."""
    path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"
    model = onnx.load(str(path))
    rng = _rng(seed)
    shapes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    kept, weights = [], []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = tuple(int(d) for d in shapes[node.input[0]])
            fan_in = max(1, int(np.prod(shape[1:]))) if len(shape) > 1 else 1
            value = rng.normal(0, np.sqrt(2.0 / fan_in), shape) if len(shape) > 1 else rng.uniform(0.5, 1.5, shape)
            weights.append(_weight(node.output[0], value.astype("float32")))
        else:
            kept.append(node)
    used = {name for node in kept for name in node.input}
    graph = model.graph
    del graph.node[:]
    graph.node.extend(kept)
    dropped = {t.name for t in graph.initializer if t.name not in used}
    constants = [t for t in graph.initializer if t.name in used] + weights
    del graph.initializer[:]
    graph.initializer.extend(constants)
    inputs = [i for i in graph.input if i.name not in dropped]
    del graph.input[:]
    graph.input.extend(inputs)
    listed = {i.name for i in graph.input}
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                       for t in weights if t.name not in listed)
    return model


def padded_pools(opset: int = 13) -> onnx.ModelProto:
    """Conv -> AveragePool (pads, default count_include_pad=0) -> LpPool (p=2 on signed values)
    -> Gemm logits -> Softmax: the padded average was off by the zeros MXNet counted, which
    only the logits (not the probabilities) showed."""
    rng = _rng()
    weights = [
        _weight("conv.weight", rng.normal(0, 0.5, (3, 2, 3, 3)).astype("float32")),
        _weight("fc.weight", rng.normal(0, 0.3, (3 * 3 * 3, 4)).astype("float32")),
        _weight("fc.bias", rng.normal(0, 0.1, 4).astype("float32")),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["conv"], ["avg"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("LpPool", ["avg"], ["lp"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1], p=2),
        helper.make_node("Flatten", ["lp"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    return _model(nodes, [_float_input("x", [1, 2, 6, 6])], [_float_input("probabilities", [1, 4])], weights, opset)


def argmax_last(opset: int = 13) -> onnx.ModelProto:
    """ArgMax/ArgMin with ``select_last_index=1`` (ties: the last index wins), as float outputs."""
    nodes = [
        helper.make_node("ArgMax", ["x"], ["last_max"], axis=1, keepdims=0, select_last_index=1),
        helper.make_node("ArgMin", ["x"], ["last_min"], axis=-1, keepdims=1, select_last_index=1),
        helper.make_node("Cast", ["last_max"], ["max_index"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["last_min"], ["min_index"], to=TensorProto.FLOAT),
    ]
    return _model(nodes, [_float_input("x", [2, 5, 3])],
                  [_float_input("max_index", [2, 3]), _float_input("min_index", [2, 5, 1])], [], opset)


def newer_ops(opset: int = 17) -> onnx.ModelProto:
    """Ops MXNet's importer lacked, in one graph: ConvTranspose with ``output_shape``, a
    Reshape that baked the export batch (1) into its target, LayerNormalization, Erf,
    Where, Tile, an unequal Split and CastLike."""
    rng = _rng()
    weights = [
        _weight("deconv.weight", rng.normal(0, 0.4, (2, 3, 3, 3)).astype("float32")),
        _weight("rows_shape", np.array([1, 3, 64], np.int64)),
        _weight("ln.scale", rng.uniform(0.5, 1.5, 64).astype("float32")),
        _weight("ln.bias", rng.normal(0, 0.1, 64).astype("float32")),
        _weight("zero", np.zeros(1, "float32")),
        _weight("repeats", np.array([1, 1, 2], np.int64)),
        _weight("sizes", np.array([3, 125], np.int64)),
        _weight("like", np.zeros(1, "float32")),
    ]
    nodes = [
        helper.make_node("ConvTranspose", ["x", "deconv.weight"], ["up"], strides=[2, 2], output_shape=[8, 8]),
        helper.make_node("Reshape", ["up", "rows_shape"], ["rows"]),
        helper.make_node("LayerNormalization", ["rows", "ln.scale", "ln.bias"], ["normed"], axis=-1),
        helper.make_node("Erf", ["normed"], ["erf"]),
        helper.make_node("Greater", ["normed", "zero"], ["positive"]),
        helper.make_node("Where", ["positive", "erf", "normed"], ["picked"]),
        helper.make_node("Tile", ["picked", "repeats"], ["tiled"]),
        helper.make_node("Split", ["tiled", "sizes"], ["head", "tail"], axis=2),
        helper.make_node("CastLike", ["tail", "like"], ["out"]),
    ]
    outputs = [_float_input("out", [1, 3, 125]), _float_input("head", [1, 3, 3])]
    return _model(nodes, [_float_input("x", [1, 2, 4, 4])], outputs, weights, opset)
