"""ONNX -> MXNet conversion end to end: real exporter output, torch-style graphs, bad files.

Every successful conversion is re-checked here independently of the library's
own verification: the saved checkpoint is loaded with MXNet's Module (as MMS
binds it, with ``allow_missing=False``) and compared with onnxruntime on fresh
inputs. Each conversion costs one MXNet import in a child (~2-3 s).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from model_archiver.errors import ConversionError, UsageError
from model_archiver.onnx_import import convert, convert_for_build, import_onnx
from tests.support import onnx_models

TORCH_STYLE = {
    "conv_bn_flatten": onnx_models.conv_bn_flatten,
    "slices": onnx_models.slices,
    "squeeze_unsqueeze_opset13": onnx_models.squeeze_unsqueeze,
    "reduce_mean_opset18": onnx_models.reduce_mean_axes_input,
    "softmax_4d_opset11": onnx_models.softmax_4d,
}


def _mxnet_outputs(prefix: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import mxnet as mx

    symbol, args, aux = mx.model.load_checkpoint(str(prefix), 0)
    module = mx.mod.Module(symbol, data_names=list(feeds), label_names=None)
    module.bind(for_training=False, data_shapes=[(k, v.shape) for k, v in feeds.items()])
    module.set_params(args, aux, allow_missing=False, allow_extra=False)
    module.forward(mx.io.DataBatch([mx.nd.array(v) for v in feeds.values()]), is_train=False)
    return [o.asnumpy() for o in module.get_outputs()]


def _ort_outputs(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _fresh_feeds(model: onnx.ModelProto, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = {t.name for t in model.graph.initializer}
    return {
        i.name: rng.normal(size=[d.dim_value for d in i.type.tensor_type.shape.dim]).astype("float32")
        for i in model.graph.input
        if i.name not in weights
    }


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("name", sorted(TORCH_STYLE))
def test_torch_style_graph_converts_and_matches_onnxruntime(name, tmp_path):
    model = TORCH_STYLE[name]()
    source = onnx_models.save(model, tmp_path / "model.onnx")
    work = tmp_path / "work"
    work.mkdir()
    result = convert(source, model_name="m", work_dir=work)
    assert result.verification.ok and result.verification.max_rel < 1e-3  # x100 draw: abs error scales
    assert sorted(result.files) == ["m-0000.params", "m-symbol.json", "signature.json"]
    feeds = _fresh_feeds(model)
    for expected, actual in zip(_ort_outputs(source, feeds), _mxnet_outputs(work / "m", feeds), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_batchnorm_statistics_are_saved_as_aux_params(tmp_path):
    model = onnx_models.conv_bn_flatten()
    source = onnx_models.save(model, tmp_path / "model.onnx")
    result = import_onnx(source, model_name="bn", out_dir=tmp_path / "out")
    import mxnet as mx

    saved = mx.nd.load(str(result.files["bn-0000.params"]))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for stat in ("bn.running_mean", "bn.running_var"):
        np.testing.assert_array_equal(saved[f"aux:{stat}"].asnumpy(), weights[stat])
        assert f"arg:{stat}" not in saved
    assert result.aux_params == ["bn.running_mean", "bn.running_var"]


def test_mxnet_export_of_trained_digits_round_trips(trained_digits, tmp_path):
    import mxnet as mx
    import mxnet.onnx

    net, split = trained_digits
    net.export(str(tmp_path / "digits"), epoch=0)
    exported = mxnet.onnx.export_model(
        str(tmp_path / "digits-symbol.json"), str(tmp_path / "digits-0000.params"), [(1, 1, 8, 8)], [np.float32],
        str(tmp_path / "digits.onnx"), dynamic=True, dynamic_input_shapes=[(None, 1, 8, 8)],
    )
    result = import_onnx(Path(exported), model_name="digits", out_dir=tmp_path / "converted", input_type="image/png")
    assert len(result.aux_params) == 4  # two BatchNorm layers' running mean and variance

    logits = _mxnet_outputs(tmp_path / "converted" / "digits", {"data": split.x_test})[0]
    expected = net(mx.nd.array(split.x_test)).asnumpy()
    assert (logits.argmax(axis=1) == expected.argmax(axis=1)).all()
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)

    signature = json.loads((tmp_path / "converted" / "signature.json").read_text())
    assert signature["inputs"] == [{"data_name": "data", "data_shape": [0, 1, 8, 8]}]
    assert signature["input_type"] == "image/png"
    assert signature["outputs"] == [{"data_name": result.output_names[0], "data_shape": [0, 10]}]


def test_convert_for_build_keeps_the_users_signature_and_directory(tmp_path):
    user_dir = tmp_path / "model"
    user_dir.mkdir()
    onnx_models.save(onnx_models.dynamic_spatial(), user_dir / "model.onnx")
    signature = {
        "inputs": [{"data_name": "input", "data_shape": [0, 2, 6, 6]}],
        "input_type": "application/json",
        "outputs": [{"data_name": "scores", "data_shape": [0, 3]}],
    }
    (user_dir / "signature.json").write_text(json.dumps(signature))
    before = _digest(user_dir)
    work = tmp_path / "work"
    work.mkdir()

    files = convert_for_build(
        user_dir / "model.onnx", model_name="conv", work_dir=work, user_signature=user_dir / "signature.json"
    )

    assert sorted(files) == ["conv-0000.params", "conv-symbol.json"]
    assert all(path.parent == work and path.is_file() for path in files.values())
    assert sorted(p.name for p in work.iterdir()) == ["conv-0000.params", "conv-symbol.json"]
    assert _digest(user_dir) == before


def test_dynamic_spatial_dims_without_a_signature_are_a_clear_error(tmp_path):
    source = onnx_models.save(onnx_models.dynamic_spatial(), tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match=r"input 'input' has dynamic dimension\(s\) \[2, 3\]"):
        convert_for_build(source, model_name="m", work_dir=tmp_path)


def test_dynamic_batch_feeding_a_reshape_is_a_clear_error(tmp_path):
    source = onnx_models.save(onnx_models.conv_bn_flatten(batch="N"), tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match="Reshape node '/Reshape' .* computed at run time"):
        convert_for_build(source, model_name="m", work_dir=tmp_path)


def test_truncated_protobuf_is_a_clear_error(tmp_path):
    raw = onnx_models.conv_bn_flatten().SerializeToString()
    source = tmp_path / "model.onnx"
    source.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ConversionError, match="model.onnx is not a readable ONNX file"):
        convert_for_build(source, model_name="m", work_dir=tmp_path)


def test_missing_opset_import_is_a_clear_error(tmp_path):
    model = onnx_models.conv_bn_flatten()
    del model.opset_import[:]
    source = onnx_models.save(model, tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match="declares no opset for the ONNX domain"):
        convert_for_build(source, model_name="m", work_dir=tmp_path)


def test_op_onnx_does_not_define_is_named(tmp_path):
    source = onnx_models.save(onnx_models.unknown_op(), tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match="node '/Frobnicate' uses op 'Frobnicate', which is not an ONNX operator"):
        convert_for_build(source, model_name="m", work_dir=tmp_path)


def test_op_mxnet_lacks_is_named_before_conversion(tmp_path):
    source = onnx_models.save(onnx_models.unsupported_op(), tmp_path / "model.onnx")
    with pytest.raises(ConversionError, match=r"does not support: Einsum \(node '/Einsum'\)"):
        convert_for_build(source, model_name="m", work_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_bad_arguments_are_usage_errors(tmp_path):
    source = onnx_models.save(onnx_models.softmax_4d(), tmp_path / "model.onnx")
    with pytest.raises(UsageError, match="ONNX file not found"):
        convert_for_build(tmp_path / "absent.onnx", model_name="m", work_dir=tmp_path)
    with pytest.raises(UsageError, match="invalid model name"):
        convert_for_build(source, model_name="bad name", work_dir=tmp_path)
    with pytest.raises(UsageError, match="tolerances must be non-negative"):
        convert_for_build(source, model_name="m", work_dir=tmp_path, atol=-1)
    wrong = tmp_path / "signature.json"
    wrong.write_text(json.dumps({"inputs": [{"data_name": "image", "data_shape": [0, 2, 4, 5]}]}))
    with pytest.raises(UsageError, match="signature.json names input 'image'.* inputs are: x"):
        convert_for_build(source, model_name="m", work_dir=tmp_path, user_signature=wrong)
