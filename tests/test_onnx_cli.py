"""``model-archiver import-onnx``: exit codes, --json, and all-or-nothing output."""
from __future__ import annotations

import json

from click.testing import CliRunner

from model_archiver.cli import cli
from tests.support import onnx_models


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["import-onnx", *args])


def test_json_success_lists_files_and_figures(tmp_path):
    source = onnx_models.save(onnx_models.conv_bn_flatten(), tmp_path / "model.onnx")
    out = tmp_path / "out"
    result = _invoke(str(source), "--model-name", "conv", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert sorted(document["files"]) == ["conv-0000.params", "conv-symbol.json", "signature.json"]
    assert all((out / name).is_file() for name in document["files"])
    assert document["verification"]["ok"] is True and document["verification"]["max_abs"] < 1e-4
    assert document["aux_params"] == ["bn.running_mean", "bn.running_var"]
    assert "fold_constant_subgraphs" in document["rewrites"]

    again = _invoke(str(source), "--model-name", "conv", "--out", str(out), "--json", "--no-verify")
    assert again.exit_code == 2
    assert json.loads(again.stdout)["error_type"] == "OutputExistsError"

    forced = _invoke(str(source), "--model-name", "conv", "--out", str(out), "--no-verify", "--force")
    assert forced.exit_code == 0, forced.output
    assert "not verified (--no-verify)" in forced.stdout


def test_disagreement_above_tolerance_exits_5_and_writes_nothing(tmp_path):
    source = onnx_models.save(onnx_models.conv_bn_flatten(), tmp_path / "model.onnx")
    out = tmp_path / "out"
    result = _invoke(str(source), "--model-name", "conv", "--out", str(out), "--atol", "0", "--rtol", "0")
    assert result.exit_code == 5
    assert "converted model disagrees with the ONNX model on output" in result.stderr
    assert list(out.iterdir()) == []


def test_bad_files_exit_5_with_one_json_object(tmp_path):
    raw = onnx_models.softmax_4d().SerializeToString()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(raw[: len(raw) // 3])
    result = _invoke(str(truncated), "--model-name", "m", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 5
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error_type"] == "ConversionError"
    assert "\n" not in document["error"]


def test_usage_errors_exit_2(tmp_path):
    source = onnx_models.save(onnx_models.softmax_4d(), tmp_path / "model.onnx")
    missing = _invoke(str(tmp_path / "absent.onnx"), "--model-name", "m")
    assert missing.exit_code == 2 and "ONNX file not found" in missing.stderr
    bad_name = _invoke(str(source), "--model-name", "no spaces", "--out", str(tmp_path))
    assert bad_name.exit_code == 2 and "invalid model name" in bad_name.stderr
    no_name = _invoke(str(source))
    assert no_name.exit_code == 2
