"""``model-archiver serve`` as a user runs it: a real MMS, URLs printed, stopped by SIGTERM.

An echo handler (no MXNet) keeps start-up quick; what is under test is the
command's lifecycle and its one-line errors, not a model.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from model_archiver import build_archive
from model_archiver.errors import ServerError
from tests.support.mms import http, pick_ports, server_missing_reason

pytestmark = [pytest.mark.mms, pytest.mark.skipif(server_missing_reason() is not None,
                                                  reason=server_missing_reason() or "")]

ECHO_HANDLER = '''
import os

def handle(data, context):
    if data is None:
        return None
    return [{"echo": len(row.get("body") or row.get("data") or b""), "omp": os.environ.get("OMP_NUM_THREADS")}
            for row in data]
'''
BROKEN_IMPORT_HANDLER = '''
raise ImportError("serve-marker-import-23")

def handle(data, context):
    return data
'''


def build(tmp_path: Path, name: str, source: str) -> Path:
    module = f"{name.replace('-', '_')}_handler"
    model_dir = tmp_path / f"{name}-src"
    model_dir.mkdir()
    (model_dir / f"{module}.py").write_text(textwrap.dedent(source))
    return build_archive(model_dir, model_name=name, handler=f"{module}:handle", export_path=tmp_path / "out").path


def serve_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "model_archiver", "serve", *map(str, args)]


def read_until(process: subprocess.Popen, marker: str, limit: int = 40) -> list[str]:
    """stdout lines up to the one containing ``marker`` (the command prints it when ready)."""
    lines = []
    while len(lines) < limit:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in output:\n" + "\n".join(lines) + process.stderr.read())


def test_serve_prints_urls_answers_and_stops_on_sigterm_leaving_no_process(tmp_path):
    archive = build(tmp_path, "echo", ECHO_HANDLER)
    (port,) = pick_ports(1)
    process = subprocess.Popen(serve_command(archive, "--port", port, "--workers", 2, "--omp-threads", 2),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_until(process, "serving; press Ctrl-C")
        url = f"http://127.0.0.1:{port}/predictions/echo"
        assert f"  POST {url}" in lines
        assert f"  curl -X POST {url} -T INPUT_FILE" in lines
        assert any("echo: 2 worker(s) ready" in line for line in lines)
        answer = http("POST", url, b"four", content_type="application/octet-stream")
        assert answer.status == 200, answer.text
        assert answer.json() == {"echo": 4, "omp": "2"}
        tree = psutil.Process(process.pid).children(recursive=True)
        assert len([p for p in tree if "model_service_worker" in " ".join(p.cmdline())]) >= 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert "stopped" in process.stderr.read()


def test_registration_failure_names_the_workers_exception(tmp_path):
    archive = build(tmp_path, "broken-import", BROKEN_IMPORT_HANDLER)
    result = subprocess.run(serve_command(archive), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == ServerError.exit_code, result.stdout + result.stderr
    assert "model-archiver: error: registering broken-import.mar failed" in result.stderr
    assert "ImportError: serve-marker-import-23" in result.stderr
    assert "Traceback (most recent call last)" not in result.stderr  # ours is the tail, not a Python dump


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    archive = build(tmp_path, "echo-port", ECHO_HANDLER)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", pick_ports(1)[0]))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(serve_command(archive, "--port", port), capture_output=True, text=True,
                                timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"model-archiver: error: port {port} on 127.0.0.1 is taken; choose another with --port"


def test_missing_java_names_what_to_install(tmp_path):
    archive = build(tmp_path, "echo-nojava", ECHO_HANDLER)
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    env.pop("JAVA_HOME", None)
    result = subprocess.run(serve_command(archive), capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode == ServerError.exit_code
    assert result.stderr.strip().splitlines() == [
        "model-archiver: error: the real Multi Model Server needs Java 17 (set JAVA_HOME or put java on PATH)"]


def test_archive_settings_are_defaults_that_flags_override():
    from model_archiver.errors import UsageError
    from model_archiver.server.settings import ServingSettings, settings_from_manifest

    manifest = {"model": {"extensions": {"serving": {"batch_size": 4, "max_batch_delay_ms": 50, "min_workers": 2,
                                                     "max_workers": 3, "response_timeout_s": 60}}}}
    stored = settings_from_manifest(manifest)
    assert stored == ServingSettings(batch_size=4, max_batch_delay_ms=50, workers=2, response_timeout_s=60,
                                     max_workers=3)
    assert stored.override(batch_size=8, workers=None) == ServingSettings(8, 50, 2, 60, 3)
    assert settings_from_manifest({"model": {}}) == ServingSettings()
    with pytest.raises(UsageError, match="batch_size must be a positive integer"):
        settings_from_manifest({"model": {"extensions": {"serving": {"batch_size": 0}}}})
