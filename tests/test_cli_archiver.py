"""The `model-archiver` command line: MMS-compatible flags, exit codes, one-line
errors, JSON output, and the inspect/verify subcommands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HANDLER = "def handle(data, context):\n    return data\n"
EXE = [sys.executable, "-m", "model_archiver"]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "service.py").write_text(HANDLER)
    (root / "weights.bin").write_bytes(os.urandom(100_000))
    return root


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_mms_flags_build_a_mar(model_dir, tmp_path):
    out = tmp_path / "new" / "nested"  # created when missing
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service:handle",
               "--runtime", "python3", "--export-path", out)
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout
    with zipfile.ZipFile(out / "m.mar") as zf:
        assert json.loads(zf.read("MAR-INF/MANIFEST.json"))["runtime"] == "python3"


def test_export_path_defaults_to_the_working_directory(model_dir, tmp_path):
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.mar").is_file()


@pytest.mark.parametrize("fmt,name", [("tgz", "m.tar.gz"), ("no-archive", "m")])
def test_archive_formats(model_dir, tmp_path, fmt, name):
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service",
               "--export-path", tmp_path, "--archive-format", fmt)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / name).exists()
    assert run("verify", tmp_path / name).returncode == 0


def test_existing_archive_needs_force(model_dir, tmp_path):
    args = ["--model-name", "m", "--model-path", model_dir, "--handler", "service", "--export-path", tmp_path]
    assert run(*args).returncode == 0
    before = (tmp_path / "m.mar").read_bytes()
    again = run(*args)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"model-archiver: error: {tmp_path / 'm.mar'} already exists; use -f/--force to overwrite it"]
    assert (tmp_path / "m.mar").read_bytes() == before
    assert run(*args, "-f").returncode == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model-name", "bad name"], "invalid model name 'bad name'"),
        (["--model-name", "m", "--handler", "9bad"], "invalid handler '9bad'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(model_dir, tmp_path, args, message):
    base = {"--model-name": "m", "--model-path": str(model_dir), "--handler": "service",
            "--export-path": str(tmp_path)}
    pairs = dict(zip(args[::2], args[1::2]))
    argv = [x for k, v in {**base, **pairs}.items() for x in (k, v)]
    done = run(*argv)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.mar").exists()


def test_missing_model_path_is_a_usage_error(tmp_path):
    done = run("--model-name", "m", "--model-path", tmp_path / "nope", "--handler", "service")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_json_output_describes_the_archive(model_dir, tmp_path):
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service", "--export-path",
               tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    import hashlib
    assert doc["sha256"] == hashlib.sha256((tmp_path / "m.mar").read_bytes()).hexdigest()
    assert doc["size"] == (tmp_path / "m.mar").stat().st_size
    files = {f["path"]: f for f in doc["files"]}
    assert files["weights.bin"]["sha256"] == hashlib.sha256((model_dir / "weights.bin").read_bytes()).hexdigest()
    assert files["weights.bin"]["compression"] == "store"
    assert "write" in doc["timings"] and doc["ok"] is True
    assert done.stderr == ""


def test_json_errors_are_json_too(model_dir, tmp_path):
    (tmp_path / "m.mar").write_bytes(b"x")
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service", "--export-path",
               tmp_path, "--json")
    assert done.returncode == 2
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and "already exists" in doc["error"]


def test_quiet_prints_nothing(model_dir, tmp_path):
    done = run("build", "--model-name", "m", "--model-path", model_dir, "--handler", "service",
               "--export-path", tmp_path, "--quiet")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_inspect_and_verify(model_dir, tmp_path):
    assert run("--model-name", "m", "--model-path", model_dir, "--handler", "service",
               "--export-path", tmp_path).returncode == 0
    shown = run("inspect", tmp_path / "m.mar")
    assert shown.returncode == 0, shown.stderr
    assert "weights.bin" in shown.stdout and "store" in shown.stdout
    doc = json.loads(run("inspect", tmp_path / "m.mar", "--json").stdout)
    assert {f["path"] for f in doc["files"]} >= {"service.py", "weights.bin", "MAR-INF/MANIFEST.json"}
    ok = run("verify", tmp_path / "m.mar")
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")

    data = bytearray((tmp_path / "m.mar").read_bytes())
    offset = data.index(b"weights.bin") + len("weights.bin") + 500  # inside the stored data
    data[offset] ^= 0x01
    (tmp_path / "m.mar").write_bytes(bytes(data))
    bad = run("verify", tmp_path / "m.mar")
    assert bad.returncode == 4
    assert "weights.bin" in bad.stderr and "Traceback" not in bad.stderr
    bad_json = run("verify", tmp_path / "m.mar", "--json")
    assert bad_json.returncode == 4
    assert json.loads(bad_json.stdout)["findings"][0]["path"] == "weights.bin"


def test_convert_without_onnx_warns_like_mms(model_dir, tmp_path):
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service",
               "--export-path", tmp_path, "-c")
    assert done.returncode == 0
    assert "no .onnx file" in done.stderr


def test_vendor_sdk_puts_the_sdk_in_the_archive(model_dir, tmp_path):
    done = run("--model-name", "m", "--model-path", model_dir, "--handler", "service",
               "--export-path", tmp_path, "--vendor-sdk")
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "m.mar") as zf:
        names = set(zf.namelist())
    assert "service_sdk/__init__.py" in names and "service_sdk/services/base.py" in names
    assert not any("__pycache__" in n for n in names)
    assert "service_sdk/runner.py" not in names  # host-side only: it needs model_archiver


def test_ctrl_c_mid_write_exits_130_and_leaves_nothing(tmp_path):
    """A real SIGINT to the CLI while it writes: one line, exit 130, no partial file."""
    import signal
    import time

    model = tmp_path / "model"
    model.mkdir()
    (model / "service.py").write_text(HANDLER)
    with (model / "weights.bin").open("wb") as handle:
        handle.truncate(3 << 30)  # sparse: cheap to make, seconds to archive
    out = tmp_path / "out"
    proc = subprocess.Popen([*EXE, "--model-name", "m", "--model-path", str(model), "--handler", "service",
                             "--export-path", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(p.name.endswith(".tmp") for p in out.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip().splitlines() == ["model-archiver: error: interrupted; nothing was written"]
    assert list(out.iterdir()) == []
