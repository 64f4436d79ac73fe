"""Validation of real exported checkpoints, broken in every way the issue lists.

The digits CNN (trained on scikit-learn's digits) and a Gluon model-zoo
ResNet-18 (random weights: no pretrained weights exist offline) are exported
with ``HybridBlock.export``; each test breaks one thing and asserts the exact
diagnosis.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_archiver.validation import failing
from tests.conftest import DIGITS_NAME
from tests.support.breakage import (
    ZOO_NAME,
    add_handler,
    edit_json,
    edit_params,
    export_zoo_dir,
    validate,
    with_code,
)

SYMBOL = f"{DIGITS_NAME}-symbol.json"
PARAMS = f"{DIGITS_NAME}-0000.params"


@pytest.fixture
def model(digits_dir: Path) -> Path:
    return add_handler(digits_dir)


@pytest.fixture(scope="module")
def zoo_export(tmp_path_factory) -> Path:
    return export_zoo_dir(tmp_path_factory.mktemp("zoo") / "model")


@pytest.fixture
def zoo(zoo_export: Path, tmp_path: Path) -> Path:
    target = tmp_path / "zoo"
    shutil.copytree(zoo_export, target)
    return add_handler(target)


def one(problems, code):
    found = with_code(problems, code)
    assert len(found) == 1, (code, [str(p) for p in problems])
    return found[0]


def test_exported_digits_dir_passes_with_no_warning(model):
    assert validate(model, DIGITS_NAME) == []


def test_exported_digits_dir_passes_import_and_shape_checks(model):
    assert validate(model, DIGITS_NAME, check_import=True, check_shapes=True) == []


def test_model_zoo_resnet_passes_all_checks(zoo):
    assert validate(zoo, ZOO_NAME, check_shapes=True) == []


# -- signature ---------------------------------------------------------------

def test_renamed_signature_input(model):
    edit_json(model / "signature.json", lambda d: d["inputs"][0].update(data_name="input"))
    problems = validate(model, DIGITS_NAME)
    assert str(one(problems, "signature.input-not-in-symbol")) == (
        "signature.json: inputs[0].data_name 'input' not in symbol inputs ['data']"
    )
    assert "symbol input 'data'" in one(problems, "signature.missing-input").message
    assert all(p.is_error for p in problems)


def test_duplicate_signature_input(model):
    edit_json(model / "signature.json", lambda d: d["inputs"].append(dict(d["inputs"][0])))
    problem = one(validate(model, DIGITS_NAME), "signature.duplicate-input")
    assert problem.message.startswith("inputs[1].data_name 'data' repeats inputs[0]")


def test_signature_that_is_not_json(model):
    (model / "signature.json").write_text('{"inputs": [')
    problem = one(validate(model, DIGITS_NAME), "signature.invalid-json")
    assert problem.file == "signature.json" and problem.is_error


def test_every_schema_violation_is_reported_with_its_path(model):
    def damage(doc):
        del doc["inputs"][0]["data_shape"]
        doc["outputs"][0]["data_shape"] = [0, -10]
        doc["input_type"] = "not a mime type"

    edit_json(model / "signature.json", damage)
    messages = [p.message for p in with_code(validate(model, DIGITS_NAME), "signature.schema")]
    assert any(m.startswith("inputs[0]: 'data_shape' is a required property") for m in messages)
    assert any(m.startswith("outputs[0].data_shape[1]: -10 is less than the minimum") for m in messages)
    assert any(m.startswith("input_type: 'not a mime type' does not match") for m in messages)


def test_unknown_mime_type_and_fixed_batch_are_warnings(model):
    def damage(doc):
        doc["input_type"] = "image/x-made-up"
        doc["inputs"][0]["data_shape"] = [4, 1, 8, 8]

    edit_json(model / "signature.json", damage)
    problems = validate(model, DIGITS_NAME)
    assert "input_type 'image/x-made-up'" in one(problems, "signature.unknown-mime-type").message
    assert "data_shape[0] is 4" in one(problems, "signature.fixed-batch").message
    assert failing(problems) == [] and len(failing(problems, strict=True)) == 2


def test_wrong_output_name_and_class_count(model):
    edit_json(model / "signature.json", lambda d: d["outputs"][0].update(data_name="prob", data_shape=[0, 12]))
    problems = validate(model, DIGITS_NAME)
    assert "outputs[0].data_name 'prob' not in symbol outputs" in one(problems, "signature.output-not-in-symbol").message
    assert "ends in 12 but the final layer" in one(problems, "signature.output-shape-mismatch").message


def test_missing_signature_is_a_warning(model):
    (model / "signature.json").unlink()
    problem = one(validate(model, DIGITS_NAME), "signature.missing")
    assert not problem.is_error


# -- symbol ------------------------------------------------------------------

def test_symbol_that_is_not_json(model):
    (model / SYMBOL).write_text("{nodes: oops")
    assert one(validate(model, DIGITS_NAME), "symbol.invalid-json").file == SYMBOL


def test_symbol_without_graph_keys(model):
    edit_json(model / SYMBOL, lambda d: d.pop("heads"))
    assert "missing list 'heads'" in one(validate(model, DIGITS_NAME), "symbol.malformed").message


# -- params ------------------------------------------------------------------

def _dense_bias(model: Path) -> str:
    graph = json.loads((model / SYMBOL).read_text())
    return next(n["name"] for n in graph["nodes"] if n["op"] == "null" and n["name"].endswith("dense1_bias"))


def test_dropped_param(model):
    bias = _dense_bias(model)
    edit_params(model / PARAMS, lambda a: a.pop(f"arg:{bias}"))
    problem = one(validate(model, DIGITS_NAME), "params.missing")
    assert problem.file == PARAMS and f"no value for 'arg:{bias}'" in problem.message


def test_renamed_param(model):
    bias = _dense_bias(model)
    edit_params(model / PARAMS, lambda a: a.update({"arg:final_bias": a.pop(f"arg:{bias}")}))
    problems = validate(model, DIGITS_NAME)
    assert f"'arg:{bias}'" in one(problems, "params.missing").message
    assert one(problems, "params.unexpected").message.startswith("'arg:final_bias' is not a variable of")


def test_added_param(model):
    import mxnet as mx

    edit_params(model / PARAMS, lambda a: a.update({"arg:extra_weight": mx.nd.zeros((3, 3))}))
    assert "'arg:extra_weight'" in one(validate(model, DIGITS_NAME), "params.unexpected").message


def test_swapped_aux_and_arg_prefixes(model):
    def swap(arrays):
        mean = next(k for k in arrays if k.endswith("running_mean"))
        gamma = next(k for k in arrays if k.endswith("gamma"))
        arrays["arg:" + mean[4:]] = arrays.pop(mean)
        arrays["aux:" + gamma[4:]] = arrays.pop(gamma)

    edit_params(model / PARAMS, swap)
    messages = [p.message for p in with_code(validate(model, DIGITS_NAME), "params.wrong-prefix")]
    assert len(messages) == 2
    assert any("gamma' is an argument" in m and "save it as 'arg:" in m for m in messages)
    assert any("running_mean' is an auxiliary state" in m and "save it as 'aux:" in m for m in messages)


def test_param_with_wrong_shape(model):
    import mxnet as mx

    bias = _dense_bias(model)
    weight = bias.replace("bias", "weight")
    edit_params(model / PARAMS, lambda a: a.update({f"arg:{weight}": mx.nd.zeros((12, 64))}))
    problem = one(validate(model, DIGITS_NAME), "params.shape-mismatch")
    assert f"'arg:{weight}' has shape (12, 64)" in problem.message and "num_hidden=10" in problem.message


def test_truncated_params(model):
    path = model / PARAMS
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    problem = one(validate(model, DIGITS_NAME), "params.unreadable")
    assert problem.file == PARAMS and "truncated" in problem.message


def test_gluon_save_parameters_file_instead_of_export(model, trained_digits):
    net, _ = trained_digits
    net.save_parameters(str(model / PARAMS))
    assert "save_parameters" in one(validate(model, DIGITS_NAME), "params.unprefixed-name").message


def test_params_that_are_not_mxnet(model):
    (model / PARAMS).write_bytes(b"PK\x03\x04 definitely a zip file")
    assert "not an MXNet NDArray file" in one(validate(model, DIGITS_NAME), "params.unreadable").message


def test_zoo_batchnorm_statistic_saved_as_arg(zoo):
    params = zoo / f"{ZOO_NAME}-0000.params"
    edit_params(params, lambda a: a.update({"arg:" + k[4:]: a.pop(k) for k in [k for k in a if k.endswith("running_var")][:1]}))
    problem = one(validate(zoo, ZOO_NAME), "params.wrong-prefix")
    assert "running_var' is an auxiliary state" in problem.message


def test_check_shapes_catches_input_shape_the_weights_cannot_take(model):
    edit_json(model / "signature.json", lambda d: d["inputs"][0].update(data_shape=[0, 1, 16, 16]))
    assert validate(model, DIGITS_NAME) == []  # nothing static can see this
    problem = one(validate(model, DIGITS_NAME, check_shapes=True), "shapes.inference-failed")
    assert problem.file == SYMBOL and "inconsistent" in problem.message.lower()


def test_check_shapes_compares_inferred_output_with_signature(zoo):
    edit_json(zoo / "signature.json", lambda d: d["outputs"][0].update(data_shape=[0, 7, 1000]))
    problem = one(validate(zoo, ZOO_NAME, check_shapes=True), "shapes.output-mismatch")
    assert "MXNet infers [1, 1000]" in problem.message


# -- synset ------------------------------------------------------------------

def test_synset_of_wrong_length(model):
    (model / "synset.txt").write_text("".join(f"digit {i}\n" for i in range(9)))
    problem = one(validate(model, DIGITS_NAME), "synset.count-mismatch")
    assert problem.message.startswith("9 labels but signature.json outputs[0] has 10 classes")


def test_synset_length_from_graph_without_signature(zoo):
    (zoo / "signature.json").unlink()
    (zoo / "synset.txt").write_text("".join(f"c{i}\n" for i in range(999)))
    problem = one(validate(zoo, ZOO_NAME), "synset.count-mismatch")
    assert f"the final layer of {ZOO_NAME}-symbol.json has 1000 classes" in problem.message


def test_synset_empty_line_is_a_warning(model):
    labels = [f"digit {i}" for i in range(10)]
    labels[4] = ""
    (model / "synset.txt").write_text("\n".join(labels) + "\n")
    problem = one(validate(model, DIGITS_NAME), "synset.empty-line")
    assert not problem.is_error and "line(s) 5" in problem.message


# -- model files -------------------------------------------------------------

def test_params_without_symbol(model):
    (model / SYMBOL).unlink()
    problem = one(validate(model, DIGITS_NAME), "checkpoint.params-without-symbol")
    assert problem.file == PARAMS and problem.is_error


def test_symbol_without_params(model):
    (model / PARAMS).unlink()
    assert one(validate(model, DIGITS_NAME), "checkpoint.symbol-without-params").file == SYMBOL


def test_two_checkpoints(model, zoo_export):
    for name in (f"{ZOO_NAME}-symbol.json", f"{ZOO_NAME}-0000.params"):
        shutil.copy(zoo_export / name, model / name)
    assert f"({DIGITS_NAME}, {ZOO_NAME})" in one(validate(model, DIGITS_NAME), "checkpoint.multiple-prefixes").message


def test_prefix_other_than_model_name_and_extra_epoch_warn(model):
    shutil.copy(model / PARAMS, model / f"{DIGITS_NAME}-0007.params")
    problems = validate(model, "mnist")
    assert "--model-name digits" in one(problems, "checkpoint.prefix-mismatch").message
    assert one(problems, "checkpoint.extra-epoch").file == f"{DIGITS_NAME}-0007.params"
    assert failing(problems) == []


def test_multiple_onnx_files(tmp_path):
    add_handler(tmp_path)
    (tmp_path / "a.onnx").write_bytes(b"x")
    (tmp_path / "b.onnx").write_bytes(b"y")
    assert one(validate(tmp_path, "m"), "model.multiple-onnx").is_error


def test_non_mxnet_model_dir_needs_only_a_handler(tmp_path):
    add_handler(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 100)
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    assert validate(tmp_path, "anything") == []
