"""``model-archiver validate`` exit codes and output; validate_directory/validate_archive wiring."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver.cli import cli
from model_archiver.validation import validate_archive, validate_directory
from tests.conftest import DIGITS_NAME
from tests.support.breakage import add_handler, with_code

VALIDATION_FAILED = 3


@pytest.fixture
def model(digits_dir: Path) -> Path:
    return add_handler(digits_dir)


def run(*args: str):
    return CliRunner().invoke(cli, ["validate", *args])


def test_clean_dir_exits_zero_and_infers_the_model_name(model):
    result = run(str(model), "--handler", "service")
    assert result.exit_code == 0, result.output
    assert f"is valid for model '{DIGITS_NAME}'" in result.stdout


def test_problems_exit_3_one_line_each(model):
    (model / "synset.txt").write_text("only one label\n")
    (model / "signature.json").write_text(json.dumps({"inputs": [{"data_name": "input", "data_shape": [0, 1, 8, 8]}]}))
    result = run(str(model), "--model-name", DIGITS_NAME, "--handler", "service")
    assert result.exit_code == VALIDATION_FAILED
    lines = result.stderr.splitlines()
    assert "error: signature.json: inputs[0].data_name 'input' not in symbol inputs ['data']" in lines
    assert any(line.startswith("error: synset.txt: 1 labels but the final layer") for line in lines)
    assert lines[-1].startswith("model-archiver: error: validation failed with")


def test_json_output_lists_problems(model):
    (model / "service.py").unlink()
    result = run(str(model), "--handler", "service", "--json")
    assert result.exit_code == VALIDATION_FAILED
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == VALIDATION_FAILED
    assert [p["code"] for p in document["problems"]] == ["handler.module-not-found"]
    assert document["problems"][0]["severity"] == "error"


def test_json_output_when_clean(model):
    result = run(str(model), "--handler", "service", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True, "model_name": DIGITS_NAME, "problems": []}


def test_warnings_pass_unless_strict(model):
    args = [str(model), "--model-name", "other-name", "--handler", "service"]
    relaxed = run(*args)
    assert relaxed.exit_code == 0
    assert "warning: digits-symbol.json: checkpoint prefix 'digits' differs" in relaxed.stderr
    assert run(*args, "--strict").exit_code == VALIDATION_FAILED


def test_exclude_applies_the_archive_file_set(model):
    result = run(str(model), "--model-name", DIGITS_NAME, "--handler", "service", "--exclude", "*.params", "--json")
    assert result.exit_code == VALIDATION_FAILED
    assert [p["code"] for p in json.loads(result.stdout)["problems"]] == ["checkpoint.symbol-without-params"]


def test_check_import_flag(model):
    (model / "service.py").write_text("import not_installed_anywhere_xyz\n\ndef handle(d, c):\n    return d\n")
    assert run(str(model), "--handler", "service").exit_code == 0
    result = run(str(model), "--handler", "service", "--check-import")
    assert result.exit_code == VALIDATION_FAILED
    assert "No module named 'not_installed_anywhere_xyz' (at service.py:1)" in result.stderr


def test_usage_errors_exit_2(tmp_path):
    add_handler(tmp_path)
    assert run(str(tmp_path), "--handler", "service").exit_code == 2  # no checkpoint to infer a name from
    assert run(str(tmp_path / "absent"), "--model-name", "m", "--handler", "service").exit_code == 2


def test_validate_directory_skips_what_the_build_skips(model):
    (model / ".hidden.onnx").write_bytes(b"x")  # hidden files are never archived
    (model / "a.onnx").write_bytes(b"y")
    assert validate_directory(model, model_name=DIGITS_NAME, handler="service") == []
    (model / "b.onnx").write_bytes(b"z")
    problems = validate_directory(model, model_name=DIGITS_NAME, handler="service")
    assert [p.code for p in problems] == ["model.multiple-onnx"]
    assert validate_directory(model, model_name=DIGITS_NAME, handler="service", excludes=["b.onnx"]) == []


def test_validate_archive_reports_problems_inside_a_built_mar(model, tmp_path):
    from model_archiver import build_archive, open_archive

    (model / "synset.txt").write_text("".join(f"d{i}\n" for i in range(11)))
    result = build_archive(model, model_name=DIGITS_NAME, handler="service", export_path=tmp_path / "out",
                           validate=False)
    with open_archive(result.path) as reader:
        problems = validate_archive(reader)
    assert [p.code for p in problems] == ["synset.count-mismatch"]
    assert with_code(problems, "synset.count-mismatch")[0].message.startswith("11 labels")
