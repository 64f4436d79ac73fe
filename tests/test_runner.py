"""The local runner: archives built by build_archive, served in a child process as MMS would."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver import build_archive
from model_archiver.cli import cli
from model_archiver.errors import ModelLoadError, UsageError
from model_archiver.packaging.vendor import sdk_files
from service_sdk import Context
from service_sdk.runner import RequestInput, run_archive
from service_sdk.services import MXNetVisionService
from tests.conftest import DIGITS_NAME
from tests.support import digits

VISION_HANDLER = "from service_sdk.services import MXNetVisionService\n\nhandle = MXNetVisionService.entry_point()\n"


def _model_dir(digits_export: Path, target: Path, handler_source: str, module: str = "digits_handler") -> Path:
    shutil.copytree(digits_export, target)
    (target / f"{module}.py").write_text(handler_source)
    return target


def _build(model_dir: Path, out: Path, handler: str = "digits_handler:handle", **options) -> Path:
    # Validation has its own tests; here the archive only has to be built.
    return build_archive(model_dir, model_name=DIGITS_NAME, handler=handler, export_path=out,
                         validate=False, **options).path


@pytest.fixture(scope="module")
def digit_pngs(trained_digits, tmp_path_factory) -> list[Path]:
    _, split = trained_digits
    folder = tmp_path_factory.mktemp("inputs")
    paths = []
    for index, image in enumerate(split.x_test[:6]):
        path = folder / f"digit{index}.png"
        path.write_bytes(digits.render_png(image))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def vision_mar(digits_export, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("vision-mar")
    return _build(_model_dir(digits_export, work / "model", VISION_HANDLER), work)


def _in_process_top_classes(model_dir: Path, pngs: list[Path]) -> list[str]:
    context = Context(DIGITS_NAME, str(model_dir), {"model": {"modelName": DIGITS_NAME}}, len(pngs))
    service = MXNetVisionService()
    service.handle(None, context)
    context.for_batch([{} for _ in pngs])
    return [r[0]["class"] for r in service.handle([{"body": p.read_bytes()} for p in pngs], context)]


def test_runner_answers_like_the_service_in_process(vision_mar, digit_pngs, digits_export, tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(digit_pngs[0].read_bytes()[:30])
    inputs = digit_pngs[:3] + [corrupt] + digit_pngs[3:]
    result = run_archive(vision_mar, inputs, batch_size=4)
    assert (result.model_name, result.handler) == (DIGITS_NAME, "digits_handler:handle")
    assert [r.status for r in result.responses] == [200, 200, 200, 400, 200, 200, 200]
    assert not result.ok and result.batch_error is None
    served = [r.json()[0]["class"] for i, r in enumerate(result.responses) if i != 3]
    assert served == _in_process_top_classes(digits_export, digit_pngs)
    assert result.responses[3].content_type == "application/json"
    assert {m["name"] for m in result.metrics} >= {"PreprocessTime", "InferenceTime", "PostprocessTime"}


@pytest.mark.parametrize("archive_format", ["tgz", "no-archive"])
def test_runner_reads_every_archive_format(digits_export, digit_pngs, tmp_path, archive_format):
    archive = _build(_model_dir(digits_export, tmp_path / "model", VISION_HANDLER), tmp_path / "out",
                     archive_format=archive_format)
    result = run_archive(archive, digit_pngs[:2])
    assert result.ok and [r.status for r in result.responses] == [200, 200]


def test_a_crashing_model_is_one_line_not_a_dead_caller(digits_export, digit_pngs, tmp_path):
    archive = _build(_model_dir(digits_export, tmp_path / "model", "import os\nos.abort()\n"), tmp_path)
    with pytest.raises(ModelLoadError, match="killed by SIGABRT"):
        run_archive(archive, digit_pngs[:1])


def test_a_load_error_names_the_cause(digits_export, digit_pngs, tmp_path):
    model_dir = _model_dir(digits_export, tmp_path / "model", VISION_HANDLER)
    (model_dir / "signature.json").write_text('{"inputs": []}')
    with pytest.raises(ModelLoadError, match="'inputs' must list at least one tensor"):
        run_archive(_build(model_dir, tmp_path), digit_pngs[:1])


def test_class_entry_point_whose_initialize_fails_is_flagged(digits_export, digit_pngs, tmp_path):
    """MMS swallows initialize errors for class entry points; the runner says so, requests get 503."""
    source = ("from service_sdk.services.vision import MXNetVisionService\n\n\n"
              "class Service(MXNetVisionService):\n    model_prefix = 'no-such-checkpoint'\n    epoch = 7\n")
    model_dir = _model_dir(digits_export, tmp_path / "model", source)
    result = run_archive(_build(model_dir, tmp_path, handler="digits_handler"), digit_pngs[:2])
    assert [r.status for r in result.responses] == [503, 503]
    assert "Prediction failed" == result.responses[0].phrase
    assert "epoch" in result.batch_error
    assert any("module-level 'handle'" in w for w in result.warnings)


def test_vendored_sdk_takes_precedence_over_the_installed_one(digits_export, tmp_path):
    source = ("import service_sdk\n\n\ndef handle(data, context):\n"
              "    return None if data is None else [service_sdk.__file__ for _ in data]\n")
    model_dir = _model_dir(digits_export, tmp_path / "model", source)
    archive = _build(model_dir, tmp_path, extra_files=sdk_files())
    result = run_archive(archive, [RequestInput(b"x")])
    location = result.responses[0].body.decode()
    assert location.endswith("service_sdk/__init__.py")
    assert "model-archiver-run-" in location  # the copy extracted from the archive


def test_unreadable_input_and_missing_archive_are_usage_errors(vision_mar, tmp_path):
    with pytest.raises(UsageError, match="cannot read input"):
        run_archive(vision_mar, [tmp_path / "missing.png"])
    with pytest.raises(UsageError, match="archive not found"):
        run_archive(tmp_path / "missing.mar", [RequestInput(b"x")])


def test_cli_run_prints_statuses_and_exits_by_outcome(vision_mar, digit_pngs, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["run", str(vision_mar), "-i", str(digit_pngs[0]), "-i", str(digit_pngs[1]), "--json"])
    assert ok.exit_code == 0, ok.output
    document = json.loads(ok.stdout)
    assert document["ok"] and [r["status"] for r in document["responses"]] == [200, 200]
    assert document["responses"][0]["body"][0]["class"] in {str(digit) for digit in range(10)}  # synset.txt

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    mixed = runner.invoke(cli, ["run", str(vision_mar), "-i", str(bad), "-i", str(digit_pngs[0])])
    assert mixed.exit_code == 1
    assert f"[0] {bad}: 400 Bad Request" in mixed.stdout
    assert "1 of 2 request(s) failed" in mixed.stderr

    missing = runner.invoke(cli, ["run", str(vision_mar), "-i", str(tmp_path / "nope.png")])
    assert missing.exit_code == 2 and "cannot read input" in missing.stderr


def test_cli_run_exits_6_when_the_model_cannot_load(digits_export, digit_pngs, tmp_path):
    archive = _build(_model_dir(digits_export, tmp_path / "model", "raise ImportError('no such dep')\n"), tmp_path)
    result = CliRunner().invoke(cli, ["run", str(archive), "-i", str(digit_pngs[0])])
    assert result.exit_code == 6
    assert result.stderr.strip().count("\n") == 0
    assert "ImportError: no such dep" in result.stderr
