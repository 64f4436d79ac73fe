"""Conversions that used to pass the check with wrong numbers, ops the importer lacked,
and refusals that must name their node: each converted for real and checked against
onnxruntime, independently of the converter's own verification."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from model_archiver.cli import cli
from model_archiver.errors import ConversionError, UsageError
from model_archiver.onnx_import import convert
from model_archiver.onnx_import.verify import compare_output
from tests.support import onnx_models

BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def _run_checkpoint(prefix, feeds: dict) -> list[np.ndarray]:
    """The saved checkpoint, bound as MMS binds it, on ``feeds``."""
    import mxnet as mx

    symbol, args, aux = mx.model.load_checkpoint(str(prefix), 0)
    module = mx.mod.Module(symbol, data_names=list(feeds), label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[(n, v.shape) for n, v in feeds.items()])
    module.set_params(args, aux, allow_missing=False, allow_extra=False)
    module.forward(mx.io.DataBatch([mx.nd.array(v) for v in feeds.values()]), is_train=False)
    return [o.asnumpy() for o in module.get_outputs()]


def _onnxruntime(path, feeds: dict) -> list[np.ndarray]:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("builder,draw", [
    # padded AveragePool (count_include_pad=0) and LpPool on signed values
    (onnx_models.padded_pools, lambda rng, shape: rng.normal(0, 3, shape)),
    # ties everywhere: select_last_index decides
    (onnx_models.argmax_last, lambda rng, shape: rng.integers(-2, 3, shape)),
    # LayerNormalization, Erf, Where, Tile, unequal Split, CastLike, ConvTranspose output_shape
    (onnx_models.newer_ops, lambda rng, shape: rng.normal(0, 2, shape)),
])
def test_converted_model_matches_onnxruntime(tmp_path, builder, draw):
    source = onnx_models.save(builder(), tmp_path / "model.onnx")
    result = convert(source, model_name="m", work_dir=tmp_path / "out")
    checked = {d.name.split(" [")[0] for d in result.verification.outputs}
    assert {o.name for o in builder().graph.output} <= checked
    name = builder().graph.input[0].name
    shape = [d.dim_value for d in builder().graph.input[0].type.tensor_type.shape.dim]
    feeds = {name: draw(np.random.default_rng(11), shape).astype("float32")}
    for got, want in zip(_run_checkpoint(tmp_path / "out" / "m", feeds), _onnxruntime(source, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_logits_before_a_softmax_are_checked_too(tmp_path):
    source = onnx_models.save(onnx_models.padded_pools(), tmp_path / "model.onnx")
    result = convert(source, model_name="m", work_dir=tmp_path / "out")
    draws = {d.name for d in result.verification.outputs}
    assert {"logits (before softmax) [normal inputs]", "logits (before softmax) [large inputs]",
            "logits (before softmax) [integers inputs]"} <= draws


def test_wrong_logits_fail_even_when_probabilities_agree():
    """The AveragePool bug's signature: logits off by 24 in 324, softmax saturated alike."""
    logits = np.array([[324.0, 10.0, -5.0]])
    assert compare_output("probabilities", np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]), 1e-4, 1e-3).ok
    assert not compare_output("logits", logits, logits + [[24.0, 0, 0]], 1e-4, 1e-3).ok
    assert compare_output("same nan", np.array([np.nan, np.inf]), np.array([np.nan, np.inf]), 1e-4, 1e-3).ok


def test_model_zoo_ir3_file_as_shipped_converts(tmp_path):
    """light/ squeezenet as the onnx wheel ships it: IR 3, weights made by ConstantOfShape."""
    shipped = BACKEND_DATA / "light" / "light_squeezenet.onnx"
    assert onnx.load(str(shipped)).ir_version == 3
    result = convert(shipped, model_name="shipped", work_dir=tmp_path / "out")
    assert "raise_ir_version" in result.rewrites and result.verification.ok


def _minus_one_batch() -> onnx.ModelProto:
    """paddle2onnx style: the batch written as dim_value -1, the feature size symbolic."""
    model = onnx_models.dynamic_batch_mlp()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value = -1
    dims[1].dim_param = "features"
    return model


def test_minus_one_batch_and_input_shape_give_a_batch_agnostic_checkpoint(tmp_path):
    source = onnx_models.save(_minus_one_batch(), tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match="--input-shape"):
        convert(source, model_name="m", work_dir=tmp_path / "refused")
    result = convert(source, model_name="m", work_dir=tmp_path / "out", input_shapes={"features": [1, 4]})
    signature = json.loads((tmp_path / "out" / "signature.json").read_text())
    assert signature["inputs"][0]["data_shape"] == [0, 4]
    feeds = {"features": np.random.default_rng(2).normal(size=(5, 4)).astype("float32")}
    expected = _onnxruntime(source, feeds)[0]
    np.testing.assert_allclose(_run_checkpoint(tmp_path / "out" / "m", feeds)[0], expected, rtol=1e-3, atol=1e-4)
    assert result.verification.ok


def test_input_shape_folds_shape_arithmetic_on_a_symbolic_batch(tmp_path):
    """torch's flatten (Shape -> Gather -> Concat -> Reshape) on a symbolic batch: refused
    alone, converted once --input-shape gives a batch, and still served at any batch."""
    source = onnx_models.save(onnx_models.conv_bn_flatten(batch="N"), tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match="--input-shape"):
        convert(source, model_name="m", work_dir=tmp_path / "refused")
    convert(source, model_name="m", work_dir=tmp_path / "out", input_shapes={"input": [1, 2, 6, 6]})
    signature = json.loads((tmp_path / "out" / "signature.json").read_text())
    assert signature["inputs"][0]["data_shape"] == [0, 2, 6, 6]
    assert signature["outputs"][0]["data_shape"][0] == 0
    feeds = {"input": np.random.default_rng(5).normal(size=(3, 2, 6, 6)).astype("float32")}
    np.testing.assert_allclose(_run_checkpoint(tmp_path / "out" / "m", feeds)[0], _onnxruntime(source, feeds)[0],
                               rtol=1e-3, atol=1e-4)


def test_input_shape_errors_are_usage_errors(tmp_path):
    source = onnx_models.save(_minus_one_batch(), tmp_path / "model.onnx")
    with pytest.raises(UsageError, match="graph's inputs are: features"):
        convert(source, model_name="m", work_dir=tmp_path / "a", input_shapes={"y": [1, 4]})
    with pytest.raises(UsageError, match="3 dims given, the graph's input has 2"):
        convert(source, model_name="m", work_dir=tmp_path / "b", input_shapes={"features": [1, 4, 4]})
    result = CliRunner().invoke(cli, ["import-onnx", str(source), "--model-name", "m", "--input-shape", "features=1,a"])
    assert result.exit_code == 2 and "NAME=D1,D2" in result.stderr


def test_shape_only_graph_is_not_folded_into_nothing(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Shape", ["x"], ["shape"]), helper.make_node("Cast", ["shape"], ["y"], to=TensorProto.FLOAT)],
        "shape_only", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    source = onnx_models.save(model, tmp_path / "model.onnx")
    convert(source, model_name="m", work_dir=tmp_path / "out")
    feeds = {"x": np.zeros((3, 4, 5), "float32")}
    assert _run_checkpoint(tmp_path / "out" / "m", feeds)[0].tolist() == [3.0, 4.0, 5.0]


def test_inputs_with_different_batch_sizes_are_refused_with_the_reason(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    source = onnx_models.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "m.onnx")
    with pytest.raises(ConversionError, match=r"dimensions \(input 'a' \[2, 3\], input 'b' \[3, 4\]\)"):
        convert(source, model_name="m", work_dir=tmp_path / "out")


def test_untranslatable_attributes_are_refused_by_node_and_op(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["x"], ["y"], name="dilated_pool", kernel_shape=[2, 2], dilations=[2, 2])],
        "dilated", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])])
    source = onnx_models.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), tmp_path / "m.onnx")
    result = CliRunner().invoke(cli, ["import-onnx", str(source), "--model-name", "m", "--out", str(tmp_path / "o")])
    assert result.exit_code == 5
    assert "AveragePool node 'dilated_pool': dilations (2, 2) have no MXNet pooling equivalent" in result.stderr
    assert "\x1b[" not in result.stderr


def test_test_data_in_the_backend_layout_is_verified_too(tmp_path):
    case = BACKEND_DATA / "node" / "test_averagepool_2d_pads"
    result = CliRunner().invoke(cli, ["import-onnx", str(case / "model.onnx"), "--model-name", "pool",
                                      "--out", str(tmp_path), "--test-data", str(case), "--json"])
    assert result.exit_code == 0, result.output
    checked = [o["name"] for o in json.loads(result.stdout)["verification"]["outputs"]]
    assert checked == ["y [normal inputs]", "y [large inputs]", "y [integers inputs]", "y [test_data_set_0 inputs]"]


@pytest.mark.parametrize("case", ["test_maxpool_2d_same_lower", "test_flatten_negative_axis3", "test_gelu_tanh_2"])
def test_backend_cases_match_their_expected_outputs(tmp_path, case):
    """auto_pad=SAME_LOWER, Flatten at a negative axis, tanh-approximated Gelu: the onnx
    wheel's own cases, checked against the expected outputs that ship with them."""
    folder = BACKEND_DATA / "node" / case
    convert(folder / "model.onnx", model_name="m", work_dir=tmp_path)
    model = onnx.load(str(folder / "model.onnx"))
    read = lambda path: onnx.numpy_helper.to_array(onnx.load_tensor(str(path)))  # noqa: E731
    feeds = {model.graph.input[0].name: read(folder / "test_data_set_0" / "input_0.pb")}
    expected = read(folder / "test_data_set_0" / "output_0.pb")
    np.testing.assert_allclose(_run_checkpoint(tmp_path / "m", feeds)[0], expected, rtol=1e-3, atol=1e-5)
