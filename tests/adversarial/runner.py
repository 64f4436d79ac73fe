"""Run one corpus case: the real CLI in a subprocess, with a timeout and resource limits.

The limits are safety nets (a hostile input that escapes the tool's own
bounds is killed and the case fails), set generously so that a loaded
2-core machine does not make them flake.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.adversarial.corpus import Case

MAX_FILE_BYTES = 512 << 20  # RLIMIT_FSIZE: no case may write a file this large
MAX_ADDRESS_SPACE = 6 << 30  # RLIMIT_AS for commands that never load a model
MAX_RSS_BYTES = 1 << 30


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss: int  # bytes, of the CLI process itself
    before: set[str]
    after: set[str]
    tmp_left: list[str]


def _limits(address_space: bool) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    if address_space:
        resource.setrlimit(resource.RLIMIT_AS, (MAX_ADDRESS_SPACE, MAX_ADDRESS_SPACE))


def snapshot(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def run_case(case: Case, case_dir: Path) -> Outcome:
    work = case_dir / "work"
    tmp = case_dir / "tmp"
    work.mkdir(parents=True)
    tmp.mkdir()
    args = case.make(work)
    before = snapshot(case_dir)
    env = {k: v for k, v in os.environ.items() if k != "MODEL_ARCHIVER_DEBUG"}
    env.update(TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    address_space = args[0] != "run"
    proc = subprocess.Popen([sys.executable, "-m", "model_archiver", *args], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: _limits(address_space))
    code, seconds, rss, out, err = _wait(proc, case.seconds)
    return Outcome(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds,
                   rss, before, snapshot(case_dir), sorted(os.listdir(tmp)))


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, float, int, bytes, bytes]:
    """Collect output on threads and reap with wait4, which reports the process's own peak RSS."""
    chunks: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k=k, s=s: chunks.__setitem__(k, s.read()), daemon=True)
               for k, s in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    started = time.monotonic()
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # anything the command left running
    except (ProcessLookupError, PermissionError):
        pass
    for reader in readers:
        reader.join(10)
    return proc.returncode, seconds, usage.ru_maxrss * 1024, chunks.get("out", b""), chunks.get("err", b"")
