"""`serve`, `smoke-test` and `bench` refuse what `run` refuses, before any server starts:
inputs that are not regular files (read forever otherwise) and archives with unsafe names
(MMS's own unzip would extract them)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

COMMANDS = [["smoke-test"], ["bench", "--configs", "1x1"]]


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model_archiver", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture()
def fifo(tmp_path) -> Path:
    path = tmp_path / "requests.fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "folder"])
def test_inputs_must_be_regular_files(command, source, fifo, tmp_path):
    path = {"/dev/zero": Path("/dev/zero"), "fifo": fifo, "folder": tmp_path}[source]
    result = _cli(*command, "examples/digits/model", "--input", path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"model-archiver: error: input {path} is not a regular file (devices, FIFOs and folders are refused)"]


def test_unsafe_archive_is_refused_before_a_server_starts(tmp_path):
    archive = tmp_path / "evil.mar"
    manifest = {"specificationVersion": "1.0", "implementationVersion": "1.0", "runtime": "python",
                "model": {"modelName": "evil", "handler": "h:handle"}}
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        zf.writestr("h.py", "def handle(data, context):\n    return data\n")
        zf.writestr("../../outside.py", "x = 1\n")
    request = tmp_path / "r.json"
    request.write_text("[1]")
    for command in (["smoke-test"], ["serve"]):
        extra = ["--input", request] if command == ["smoke-test"] else []
        result = _cli(*command, archive, *extra)
        assert result.returncode == 4, result.stderr
        assert "unsafe entry" in result.stderr and "../../outside.py" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path.parent / "outside.py").exists()
