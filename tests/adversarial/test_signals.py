"""Stop signals at any moment: one line, exit 128 + n, nothing left behind; SIGKILL leftovers swept.

Real signals to the real CLI in a subprocess. A sparse multi-GiB file makes
the write phase last long enough to be interrupted reliably.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.adversarial.archives import HANDLER

pytestmark = pytest.mark.slow
EXE = [sys.executable, "-m", "model_archiver"]


def _model(tmp_path: Path, sparse: int = 3 << 30) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "service.py").write_bytes(HANDLER)
    with (model / "weights.bin").open("wb") as handle:
        handle.truncate(sparse)
    return model


def _start_build(model: Path, out: Path, tmp: Path, *extra: str) -> subprocess.Popen:
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp))
    return subprocess.Popen([*EXE, "--model-name", "m", "--model-path", str(model), "--handler", "service",
                             "--export-path", str(out), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_temp(proc: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + 90
    while not (out.is_dir() and any(p.name.endswith(".tmp") for p in out.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("archive_format", ["default", "no-archive"])
def test_stop_signal_mid_write_cleans_up(tmp_path: Path, signum: int, archive_format: str) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    proc = _start_build(_model(tmp_path), out, tmp, "--archive-format", archive_format)
    _wait_for_temp(proc, out)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signum, stderr
    assert len(stderr.strip().splitlines()) == 1 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert list(out.iterdir()) == []
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("delay", [0.08, 0.15, 0.3, 0.6])
def test_ctrl_c_during_start_up_exits_130_without_traceback(tmp_path: Path, delay: float) -> None:
    """Before the build starts (imports, argument parsing): never 'Aborted!' with exit 1, never a traceback."""
    out = tmp_path / "out"
    proc = _start_build(_model(tmp_path), out, tmp_path / "tmp")
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=90)
    if proc.returncode == 0 or (out / "m.mar").exists():  # the build finished first (the signal may then
        return  # land during interpreter shutdown, when Python has restored the default handler)
    our_frames = re.search(r'File "[^"]*/(model_archiver/(?!__main__)|click/)', stderr)
    if "KeyboardInterrupt" in stderr and not our_frames:
        pytest.skip("the signal arrived during the interpreter's own start-up (site, locating the CLI module), "
                    "before the CLI's first line could install its handler")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists() or [p for p in out.iterdir() if p.name.endswith((".tmp", ".old"))] == []


def test_sigkill_leftovers_are_swept_by_the_next_build(tmp_path: Path) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    model = _model(tmp_path)
    proc = _start_build(model, out, tmp)
    _wait_for_temp(proc, out)
    proc.kill()
    proc.communicate(timeout=60)
    leftovers = [p.name for p in out.iterdir()]
    assert leftovers and all(name.startswith(f".m.mar.{proc.pid}.") for name in leftovers)
    work_dirs = [p.name for p in tmp.iterdir()]
    assert work_dirs and all(name.startswith(f"model-archiver-{proc.pid}-") for name in work_dirs)
    (model / "weights.bin").unlink()  # the next build is quick
    done = subprocess.run([*EXE, "--model-name", "m", "--model-path", str(model), "--handler", "service",
                           "--export-path", str(out)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, TMPDIR=str(tmp)))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["m.mar"]
    assert list(tmp.iterdir()) == []


def test_live_builds_temp_file_is_never_swept(tmp_path: Path) -> None:
    """A temporary output whose process is alive (here: this test's own pid) is left alone."""
    from model_archiver.packaging.atomic import sweep_leftovers

    out = tmp_path / "out"
    out.mkdir()
    mine = out / f".m.mar.{os.getpid()}.abcd.tmp"
    mine.write_bytes(b"in progress")
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = out / f".m.mar.{dead.pid}.efgh.tmp"
    gone.write_bytes(b"left by a killed build")
    other = out / ".other.mar.1.x.tmp"
    other.write_bytes(b"someone else's")
    assert sweep_leftovers(out / "m.mar") == [gone]
    assert sorted(p.name for p in out.iterdir()) == sorted([mine.name, other.name])
