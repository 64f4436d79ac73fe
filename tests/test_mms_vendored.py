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
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model_archiver.cli import main as cli_main
from tests.support.mms import java_missing_reason, running_server

pytestmark = pytest.mark.skipif(java_missing_reason() is not None, reason=java_missing_reason() or "")

STOCK_REQUIREMENTS = ("multi-model-server==1.1.11", "mxnet==1.9.1", "numpy==1.23.5", "Pillow")
PIP_TIMEOUT = 1200


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
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        if done.returncode != 0:
            pytest.fail(f"creating the stock MMS venv failed at {' '.join(step[:4])}...:\n"
                        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
