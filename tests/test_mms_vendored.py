"""An archive built with ``--vendor-sdk`` runs on a stock MMS that lacks our packages.

The server runs from its own virtual environment holding only what a stock
MMS host has (multi-model-server, MXNet, numpy, Pillow). It is created once
under ~/.cache/model-archiver-tests/ (or $MODEL_ARCHIVER_TEST_CACHE) and
reused; creation is guarded by a file lock and marked complete only after an
import check, so an interrupted creation is redone rather than trusted.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver.cli import cli
from tests.support import digits
from tests.support.mms import java_missing_reason, running_server

pytestmark = pytest.mark.skipif(java_missing_reason() is not None, reason=java_missing_reason() or "")

STOCK_REQUIREMENTS = ("multi-model-server==1.1.11", "mxnet==1.9.1", "numpy==1.23.5", "Pillow")
PIP_TIMEOUT = 1200
DIGITS_MODEL = Path(__file__).resolve().parents[1] / "examples" / "digits" / "model"
IMAGES = 40


def without_pythonpath() -> dict[str, str]:
    """This environment minus PYTHONPATH, which could smuggle our source tree in."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def cache_root() -> Path:
    configured = os.environ.get("MODEL_ARCHIVER_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "model-archiver-tests"


def stock_mms_python() -> Path:
    """The interpreter of a venv with stock MMS and MXNet and without our packages."""
    key = hashlib.sha256("\n".join([*STOCK_REQUIREMENTS, sys.version]).encode()).hexdigest()[:12]
    venv = cache_root() / f"stock-mms-{key}"
    python = venv / "bin" / "python"
    complete = venv / ".complete"
    if complete.exists():
        return python
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f"stock-mms-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            _create_venv(venv, python)
            complete.write_text("\n".join(STOCK_REQUIREMENTS) + "\n")
    return python


def _create_venv(venv: Path, python: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)  # the remains of an interrupted creation
    base_python = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base_python, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *STOCK_REQUIREMENTS],
        [str(python), "-c", "import mms, mxnet, numpy, PIL"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=PIP_TIMEOUT,
                              env=without_pythonpath())
        if done.returncode != 0:
            pytest.fail(f"creating the stock MMS venv failed at {' '.join(step[:4])}...:\n"
                        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def test_stock_environment_lacks_our_packages():
    """The premise of the test below: only the archive's copy of the SDK can be imported."""
    probe = subprocess.run([str(stock_mms_python()), "-c", "import service_sdk"], capture_output=True,
                           cwd=Path.home(), env=without_pythonpath())
    assert probe.returncode != 0
    assert "No module named 'service_sdk'" in probe.stderr.decode()


def test_vendored_sdk_archive_is_served_by_stock_mms(tmp_path):
    python = stock_mms_python()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "--model-name", "digits", "--model-path", str(DIGITS_MODEL), "--handler", "digits_service:handle",
        "--export-path", str(out), "--vendor-sdk",
    ])
    assert result.exit_code == 0, result.output
    archive = out / "digits.mar"
    with zipfile.ZipFile(archive) as zipped:
        assert "service_sdk/services/vision.py" in zipped.namelist()

    split = digits.load_split()
    with running_server(tmp_path / "stock-mms", python=python) as server:
        name = server.serve(archive, batch_size=4, max_batch_delay=50)
        answers = [server.predict(name, digits.render_png(image), "image/png") for image in split.x_test[:IMAGES]]
        for answer in answers:
            assert answer.status == 200, server.explain(answer)
        correct = sum(int(a.json()[0]["class"]) == label for a, label in zip(answers, split.y_test[:IMAGES]))
        assert correct >= 0.95 * IMAGES
        assert f"Python executable: {python}" in server.log_text(), server.logs_excerpt()
