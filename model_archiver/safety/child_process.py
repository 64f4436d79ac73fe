"""Running a child process that loads untrusted code (a handler, an archive's model).

Three places do it: the import check, the local runner (``run``) and the
quantization worker (which decodes calibration images with the handler). They
share one way, because the obvious one, ``subprocess.run(capture_output=True,
timeout=...)``, hangs or grows without bound on hostile code:

- a background process the handler starts inherits the pipes, and ``run``
  waits for their end-of-file even after killing the child on timeout;
- a handler that prints gigabytes fills our memory through the captured pipe.

So the child gets its own process group, writes its output to files (only the
tail is read back), and the whole group is killed when it ends or runs out of
time: nothing it started outlives it.
"""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class ChildOutcome:
    """How the child ended: its exit code (None when it ran out of time) and its stderr's tail."""

    returncode: Optional[int]
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_in_group(command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float,
                 scratch: Path) -> ChildOutcome:
    """Run ``command`` in its own process group, output to files in ``scratch``; kill the group after."""
    scratch.mkdir(parents=True, exist_ok=True)
    out_path, err_path = scratch / "child.stdout", scratch / "child.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, start_new_session=True)
        try:
            returncode: Optional[int] = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            _kill_group(child)
    return ChildOutcome(returncode, _tail(err_path))


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
        return handle.read().decode("utf-8", "replace")
