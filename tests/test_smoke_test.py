"""``model-archiver smoke-test`` against the real MMS: passes a good archive, fails broken ones with exit 8.

Each run starts its own server (that is the command's contract), so the
broken archives are plain handler modules without MXNet to keep them quick.
The digits archive carries stored example requests and serving settings, so
the command's defaults (inputs and batch size from the archive) are what the
passing test exercises.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from model_archiver import build_archive
from model_archiver.errors import SmokeTestFailed
from model_archiver.request_examples import ExampleSpec
from tests.support import digits
from tests.support.mms import server_missing_reason

pytestmark = [pytest.mark.mms, pytest.mark.slow,
              pytest.mark.skipif(server_missing_reason() is not None, reason=server_missing_reason() or "")]

REPO = Path(__file__).resolve().parents[1]
HANDLER = REPO / "examples" / "digits" / "model" / "digits_service.py"
FAILED = SmokeTestFailed.exit_code

ALWAYS_SEVEN_HANDLER = '''
import json

def handle(data, context):
    if data is None:
        return None
    return [json.dumps([{"class": "7"}]) for _ in data]
'''
IMPORT_ERROR_HANDLER = '''
raise ImportError("smoke-test-marker-import-17")

def handle(data, context):
    return data
'''
CRASH_ON_INPUT_HANDLER = '''
import os

def handle(data, context):
    if data is None:  # MMS's load-time call
        return None
    os._exit(3)  # the worker dies on the first request, as a segfaulting model would
'''


def smoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model_archiver", "smoke-test", *map(str, args)],
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> list[tuple[Path, int]]:
    """Two held-out digits as PNG files, with their true labels."""
    split = digits.load_split()
    folder = tmp_path_factory.mktemp("smoke-inputs")
    files = []
    for index in (1, 2):
        path = folder / f"digit-{index}.png"
        path.write_bytes(digits.render_png(split.x_test[index]))
        files.append((path, int(split.y_test[index])))
    return files


@pytest.fixture(scope="module")
def digits_archive(digits_export, held_out, tmp_path_factory) -> Path:
    """The trained digits model with the example's handler, two stored examples and serving settings."""
    model_dir = tmp_path_factory.mktemp("smoke-digits") / "model"
    shutil.copytree(digits_export, model_dir)
    shutil.copy(HANDLER, model_dir)
    return build_archive(model_dir, model_name="digits", handler="digits_service:handle",
                         export_path=model_dir.parent / "out",
                         examples=[ExampleSpec(path) for path, _ in held_out],
                         serving={"batch_size": 2, "max_batch_delay_ms": 20}).path


def handler_archive(tmp_path: Path, name: str, source: str) -> Path:
    module = f"{name.replace('-', '_')}_handler"
    model_dir = tmp_path / f"{name}-src"
    model_dir.mkdir()
    (model_dir / f"{module}.py").write_text(textwrap.dedent(source))
    return build_archive(model_dir, model_name=name, handler=f"{module}:handle", export_path=tmp_path / "out").path


def test_stored_examples_pass_every_check_with_the_archives_serving_settings(digits_archive):
    result = smoke(digits_archive, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [check["name"] for check in report["checks"]] == [
        "local run", "register", "single", "matches run", "concurrent", "scale up", "scale down"]
    assert all(check["ok"] for check in report["checks"])
    assert report["settings"]["batch_size"] == 2 and report["settings"]["max_batch_delay_ms"] == 20
    assert [answer["input"] for answer in report["answers"]] == ["digit-1", "digit-2"]
    assert {answer["status"] for answer in report["answers"]} == {200}


def test_a_wrong_expected_answer_fails_with_the_reason(tmp_path, held_out):
    archive = handler_archive(tmp_path, "always-seven", ALWAYS_SEVEN_HANDLER)
    expected = tmp_path / "expected.json"
    expected.write_text('[{"class": "3"}]')
    result = smoke(archive, "--input", held_out[0][0], "--expect-json", expected, "--expect-label", "3")
    assert result.returncode == FAILED, result.stdout + result.stderr
    assert "PASS  matches run" in result.stdout  # the server and the runner agree: the answer is wrong
    assert "FAIL  single" in result.stdout
    assert "$[0].class: expected '3', got '7'" in result.stdout and "top label '7', expected '3'" in result.stdout
    assert result.stderr.count("model-archiver: error:") == 1 and "Traceback" not in result.stderr


def test_a_handler_import_error_fails_with_the_workers_traceback(tmp_path, held_out):
    archive = handler_archive(tmp_path, "broken-import", IMPORT_ERROR_HANDLER)
    result = smoke(archive, "--input", held_out[0][0], "--json")
    assert result.returncode == FAILED, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert not checks["local run"]["ok"] and not checks["register"]["ok"]
    assert "smoke-test-marker-import-17" in checks["register"]["detail"]
    assert "single" not in checks  # nothing to send to a model that never loaded


def test_a_model_that_crashes_on_input_fails(tmp_path, held_out):
    archive = handler_archive(tmp_path, "crash-on-input", CRASH_ON_INPUT_HANDLER)
    result = smoke(archive, "--input", held_out[0][0])
    assert result.returncode == FAILED, result.stdout + result.stderr
    assert "PASS  register" in result.stdout
    assert "FAIL  single" in result.stdout and "HTTP 500" in result.stdout
    assert "FAIL  local run" in result.stdout  # the runner's model process died too


def test_expectations_must_match_the_inputs_in_number(digits_archive, held_out):
    result = smoke(digits_archive, "--input", held_out[0][0], "--input", held_out[1][0],
                   "--expect-label", "1", "--expect-label", "2", "--expect-label", "3")
    assert result.returncode == 2
    assert "once per input" in result.stderr


def test_no_input_and_no_stored_examples_is_a_usage_error(tmp_path):
    archive = handler_archive(tmp_path, "no-examples", ALWAYS_SEVEN_HANDLER)
    result = smoke(archive)
    assert result.returncode == 2
    assert result.stderr.strip() == ("model-archiver: error: give at least one --input "
                                     "(the archive has no stored examples)")
