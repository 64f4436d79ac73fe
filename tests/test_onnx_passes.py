"""Each sanitizer pass on its own: what it rewrites, and that the graph still computes
the same thing (checked with onnxruntime wherever the pass output is still valid ONNX).

No MXNet here: these run in milliseconds.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from model_archiver.errors import ConversionError
from model_archiver.onnx_import import passes
from model_archiver.onnx_import.graph import initializers
from model_archiver.onnx_import.support import check_importable
from tests.support import onnx_models


def _run(model: onnx.ModelProto, seed: int = 0) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    weights = {t.name for t in model.graph.initializer}
    feeds = {
        i.name: rng.random([d.dim_value or 2 for d in i.type.tensor_type.shape.dim]).astype("float32")
        for i in model.graph.input
        if i.name not in weights
    }
    return session.run(None, feeds)


def _assert_same(before: onnx.ModelProto, after: onnx.ModelProto) -> None:
    for expected, actual in zip(_run(before), _run(after), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def _attr(model: onnx.ModelProto, op: str, name: str):
    node = next(n for n in model.graph.node if n.op_type == op)
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), None)


def test_passes_never_modify_their_argument():
    model = onnx_models.conv_bn_flatten()
    original = model.SerializeToString()
    for rewrite in passes.PASSES:
        rewrite(model)
    assert model.SerializeToString() == original


def test_fold_constant_nodes_turns_constants_into_initializers():
    model = onnx_models.conv_bn_flatten()
    folded = passes.fold_constant_nodes(model)
    assert "Constant" not in _ops(folded)
    assert initializers(folded.graph)["minus_one"].tolist() == [-1]
    _assert_same(model, folded)


def test_fold_constant_subgraphs_folds_the_torch_flatten_chain():
    model = passes.fold_constant_nodes(onnx_models.conv_bn_flatten())
    folded = passes.fold_constant_subgraphs(model)
    assert _ops(folded) == ["Conv", "BatchNormalization", "Relu", "Reshape", "Gemm", "Clip"]
    reshape = next(n for n in folded.graph.node if n.op_type == "Reshape")
    # batch 1 (static) followed by the -1 the graph concatenated
    assert initializers(folded.graph)[reshape.input[1]].tolist() == [1, -1]
    assert "zero" not in initializers(folded.graph)  # consumed by the folded Gather, then pruned
    _assert_same(model, folded)


def test_fold_constant_subgraphs_leaves_shapes_of_a_dynamic_batch_alone():
    model = passes.fold_constant_nodes(onnx_models.conv_bn_flatten(batch="N"))
    folded = passes.fold_constant_subgraphs(model)
    assert "Shape" in _ops(folded)
    sanitized, _ = passes.sanitize(model)
    with pytest.raises(ConversionError, match=r"Reshape node '/Reshape' input 1 .* computed at run time"):
        check_importable(sanitized)


def test_slice_to_gather_replaces_every_constant_slice():
    model = passes.fold_constant_nodes(onnx_models.slices())
    rewritten = passes.slice_to_gather(model)
    assert "Slice" not in _ops(rewritten)
    indices = [initializers(rewritten.graph)[n.input[1]].tolist() for n in rewritten.graph.node if n.op_type == "Gather"]
    assert [1, 2, 3] in indices and [2, 1, 0] in indices  # INT64_MAX end clamped; reversal kept
    _assert_same(model, rewritten)


def test_slice_to_gather_rejects_a_partial_slice_of_a_dynamic_axis():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    weights = [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("s", 1), ("e", 3), ("a", 0))]
    graph = helper.make_graph([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"], name="cut")], "g", [x], [y], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ConversionError, match="Slice node 'cut' cuts dynamic dimension 0"):
        passes.slice_to_gather(model)


def test_normalize_gather_indices_makes_indices_positive_and_keeps_the_rank():
    model = passes.slice_to_gather(passes.fold_constant_nodes(onnx_models.slices()))
    rewritten = passes.normalize_gather_indices(model)
    for node in rewritten.graph.node:
        if node.op_type == "Gather":
            values = initializers(rewritten.graph)[node.input[1]]
            assert values.ndim >= 1 and (values >= 0).all()
    assert _ops(rewritten)[-1] == "Squeeze"
    _assert_same(model, rewritten)


def test_fix_legacy_softmax_axis_flattens_like_opset_11():
    model = onnx_models.softmax_4d(opset=11)
    rewritten = passes.fix_legacy_softmax_axis(model)
    assert _ops(rewritten) == ["Conv", "Reshape", "Softmax", "Reshape"]
    assert _attr(rewritten, "Softmax", "axis") == -1
    _assert_same(model, rewritten)
    # The flattening matters: normalising over C alone gives different numbers.
    per_channel = onnx_models.softmax_4d(opset=13)
    assert not np.allclose(_run(model)[0], _run(per_channel)[0], atol=1e-3)


def test_fix_legacy_softmax_axis_keeps_opset_13_as_is():
    model = onnx_models.softmax_4d(opset=13)
    assert passes.fix_legacy_softmax_axis(model) == model


def test_axes_inputs_to_attributes_at_opset_13():
    model = passes.fold_constant_nodes(onnx_models.squeeze_unsqueeze())
    rewritten = passes.axes_inputs_to_attributes(model)
    assert all(len(n.input) == 1 for n in rewritten.graph.node if n.op_type != "Mul")
    assert _attr(rewritten, "Squeeze", "axes") == [2]
    assert _attr(rewritten, "ReduceSum", "axes") == [-1]
    # [-1, 1] on a rank-2 input: output positions 3 and 1, inserted in ascending order
    assert _attr(rewritten, "Unsqueeze", "axes") == [1, 3]
    assert not {"axes_sq", "axes_sum", "axes_unsq"} & set(initializers(rewritten.graph))


def test_axes_inputs_to_attributes_for_reduce_mean_at_opset_18():
    model = passes.fold_constant_nodes(onnx_models.reduce_mean_axes_input())
    rewritten = passes.axes_inputs_to_attributes(model)
    assert _attr(rewritten, "ReduceMean", "axes") == [2, 3]
    assert list(next(n for n in rewritten.graph.node if n.op_type == "ReduceMean").input) == ["x"]


def test_explicit_reduce_keepdims_writes_the_onnx_default_only():
    model = passes.fold_constant_nodes(onnx_models.reduce_mean_axes_input())
    assert _attr(passes.explicit_reduce_keepdims(model), "ReduceMean", "keepdims") == 1
    other = passes.fold_constant_nodes(onnx_models.squeeze_unsqueeze())
    assert _attr(passes.explicit_reduce_keepdims(other), "ReduceSum", "keepdims") == 0


def test_list_initializers_as_inputs():
    model = onnx_models.conv_bn_flatten()
    rewritten = passes.list_initializers_as_inputs(model)
    listed = {i.name for i in rewritten.graph.input}
    assert {t.name for t in rewritten.graph.initializer} <= listed
    _assert_same(model, rewritten)


def _single_node_model(node: onnx.NodeProto, weights: list, out_shape=None, opset: int = 13) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 5, 5] if node.op_type == "Conv" else [2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph([node], "g", [x], [y], [numpy_helper.from_array(w, n) for n, w in weights])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_complete_clip_bounds_fills_an_omitted_min():
    node = helper.make_node("Clip", ["x", "", "hi"], ["y"])
    model = _single_node_model(node, [("hi", np.array(0.5, np.float32))])
    rewritten = passes.complete_clip_bounds(model)
    clip = rewritten.graph.node[0]
    assert len(clip.input) == 3 and all(name in initializers(rewritten.graph) for name in clip.input[1:])
    _assert_same(model, rewritten)


def test_add_missing_gemm_bias():
    weight = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    model = _single_node_model(helper.make_node("Gemm", ["x", "w"], ["y"], transB=1), [("w", weight)])
    rewritten = passes.add_missing_gemm_bias(model)
    bias = initializers(rewritten.graph)[rewritten.graph.node[0].input[2]]
    assert bias.shape == (3,) and not bias.any()
    _assert_same(model, rewritten)


def test_explicit_kernel_shape_reads_the_weight():
    weight = np.random.default_rng(1).normal(size=(2, 3, 3, 1)).astype("float32")
    model = _single_node_model(helper.make_node("Conv", ["x", "w"], ["y"]), [("w", weight)])
    rewritten = passes.explicit_kernel_shape(model)
    assert _attr(rewritten, "Conv", "kernel_shape") == [3, 1]
    _assert_same(model, rewritten)


def test_drop_trailing_empty_inputs():
    node = helper.make_node("Clip", ["x", "lo", ""], ["y"])
    model = _single_node_model(node, [("lo", np.array(0.5, np.float32))])
    rewritten = passes.drop_trailing_empty_inputs(model)
    assert list(rewritten.graph.node[0].input) == ["x", "lo"]
    _assert_same(model, rewritten)


def test_sanitize_reports_the_passes_that_changed_something():
    _, applied = passes.sanitize(onnx_models.conv_bn_flatten())
    assert applied == ["fold_constant_nodes", "fold_constant_subgraphs", "batch_agnostic_reshape",
                       "list_initializers_as_inputs"]


def test_raise_ir_version_lets_shape_inference_see_folded_weights():
    model = onnx_models.light_model("squeezenet")
    assert model.ir_version == 3
    raised = passes.raise_ir_version(model)
    assert raised.ir_version == 4 and raised.graph == model.graph


def test_batch_agnostic_reshape_copies_the_batch_instead_of_baking_it():
    model = onnx_models.newer_ops()
    rewritten = passes.batch_agnostic_reshape(model)
    reshape = next(n for n in rewritten.graph.node if n.op_type == "Reshape")
    assert initializers(rewritten.graph)[reshape.input[1]].tolist() == [0, 3, 64]
    _assert_same(model, rewritten)


def test_explicit_batchnorm_epsilon_writes_the_onnx_default():
    model = onnx_models.light_model("shufflenet")
    assert _attr(model, "BatchNormalization", "epsilon") is None
    assert _attr(passes.explicit_batchnorm_epsilon(model), "BatchNormalization", "epsilon") == pytest.approx(1e-5)


def test_layer_normalization_and_castlike_decompose_into_the_same_numbers():
    model = onnx_models.newer_ops()
    rewritten = passes.decompose_layer_normalization(passes.castlike_to_cast(model))
    assert "LayerNormalization" not in _ops(rewritten) and "CastLike" not in _ops(rewritten)
    for expected, actual in zip(_run(model), _run(rewritten), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


def test_conv_transpose_output_shape_becomes_explicit_pads():
    model = passes.explicit_kernel_shape(onnx_models.newer_ops())
    rewritten = passes.explicit_conv_transpose_pads(model)
    assert _attr(rewritten, "ConvTranspose", "output_shape") is None
    assert _attr(rewritten, "ConvTranspose", "pads") == [1, 1, 0, 0]  # total 1: ONNX puts the odd one first
    assert _attr(rewritten, "ConvTranspose", "output_padding") == [0, 0]
    _assert_same(model, rewritten)


def test_sanitize_keeps_weights_out_of_the_passes_and_puts_them_back():
    model = onnx_models.light_model("squeezenet")
    seen = []

    def spy(current: onnx.ModelProto) -> onnx.ModelProto:
        seen.extend(t.data_location for t in current.graph.initializer if np.prod(t.dims) > 4096)
        return current

    sanitized, _ = passes.sanitize(model, passes=(spy,))
    assert seen and set(seen) == {TensorProto.EXTERNAL}
    assert {t.name: t.SerializeToString() for t in sanitized.graph.initializer} == \
        {t.name: t.SerializeToString() for t in model.graph.initializer}


def test_folding_never_leaves_a_graph_without_nodes():
    graph = helper.make_graph([helper.make_node("Shape", ["x"], ["y"])], "shape_only",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert _ops(passes.fold_constant_subgraphs(model)) == ["Shape"]
