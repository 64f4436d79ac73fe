"""`run` loads an archive's handler, which is untrusted code: whatever it starts dies with the
model process, a hang ends at --timeout, and a handler that rewrites the runner's result
file gets one line (exit 6), never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from model_archiver import build_archive

REQUEST = b'{"x": 1}'


def _archive(tmp_path: Path, handler_source: str) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "svc.py").write_text(handler_source)
    return build_archive(model, model_name="iso", handler="svc:handle", export_path=tmp_path / "out",
                         validate=False).path


def _run(archive: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    request = tmp_path / "request.json"
    request.write_bytes(REQUEST)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "model_archiver", "run", str(archive), "--input", str(request),
                           *extra], capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - started


def _sleepers(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_a_background_process_the_handler_starts_neither_blocks_nor_outlives_run(tmp_path):
    marker = f"sleeper-{os.getpid()}-{tmp_path.name}"
    handler = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time, sys; time.sleep(600)', {marker!r}])\n"
        "def handle(data, context):\n"
        "    return [b'ok' for _ in (data or [])]\n"
    )
    done, seconds = _run(_archive(tmp_path, handler), tmp_path)
    assert done.returncode == 0, done.stderr
    assert seconds < 60  # it used to wait for the sleeper's copy of the pipes: 600 s
    deadline = time.monotonic() + 10
    while _sleepers(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _sleepers(marker) == []


def test_a_handler_that_hangs_ends_at_the_timeout_with_exit_6(tmp_path):
    handler = "import time\ndef handle(data, context):\n    time.sleep(600)\n"
    done, seconds = _run(_archive(tmp_path, handler), tmp_path, "--timeout", "3")
    assert done.returncode == 6, done.stderr
    assert done.stderr.strip().splitlines() == ["model-archiver: error: model iso did not answer within 3 s"]
    assert seconds < 60


@pytest.mark.parametrize("content", ["[1, 2]", "{", "null"])
def test_a_handler_that_rewrites_the_result_file_gets_one_line(tmp_path, content):
    handler = (  # after the runner wrote its result, the handler's code overwrites it
        "import atexit, json, sys\n"
        "def _spoil():\n"
        "    with open(sys.argv[-1]) as job:\n"
        f"        open(json.load(job)['result'], 'w').write({content!r})\n"
        "atexit.register(_spoil)\n"
        "def handle(data, context):\n"
        "    return [b'ok' for _ in (data or [])]\n"
    )
    done, _ = _run(_archive(tmp_path, handler), tmp_path)
    assert done.returncode == 6, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
