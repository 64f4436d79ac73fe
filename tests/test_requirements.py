"""``--requirements``: pip installs into the archive's lib/, which comes first on sys.path at load, in real MMS too.

The two requirements are local wheels made here (a pure-Python module and a C
extension compiled with setuptools + gcc), so nothing needs the network, and
neither is installed in the build or the server environment.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver.cli import cli
from model_archiver.dependencies import BOOTSTRAP_MODULE
from tests.support.mms import java_missing_reason, running_server
from tests.support.wheels import c_extension_wheel, pure_wheel

FASTSUM_C = r'''
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b, in C"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastsum", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fastsum(void) { return PyModule_Create(&module); }
'''
HANDLER = '''import json

import fastsum
import greetpkg
import service_sdk  # on a stock MMS host only through --vendor-sdk


def handle(data, context):
    if data is None:
        return None
    answers = []
    for row in data:
        body = row.get("body") or row.get("data")
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        if isinstance(body, str):
            body = json.loads(body)
        answers.append(json.dumps({"greeting": greetpkg.greet(body["name"]), "sum": fastsum.add(body["a"], body["b"]),
                                   "fastsum_file": fastsum.__file__}))
    return answers
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """model/ (the handler) and requirements.txt pointing at two fresh local wheels."""
    root = tmp_path_factory.mktemp("project")
    wheels = root / "wheels"
    pure_wheel(wheels, "greetpkg", "0.3", 'def greet(name):\n    return "hello " + name\n')
    c_extension_wheel(wheels, "fastsum", "1.2", FASTSUM_C, root / "build-fastsum")
    (root / "requirements.txt").write_text("--no-index\n--find-links wheels\ngreetpkg==0.3\nfastsum>=1\n")
    (root / "model").mkdir()
    (root / "model" / "app_service.py").write_text(HANDLER)
    return root


@pytest.fixture(scope="module")
def archive(project, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(cli, ["build", "--model-name", "app", "--model-path", str(project / "model"),
                                      "--handler", "app_service:handle", "--export-path", str(out), "--vendor-sdk",
                                      "--requirements", str(project / "requirements.txt"), "--check-import", "--json"])
    assert result.exit_code == 0, result.output
    assert not [p for p in json.loads(result.output)["problems"] if p["code"] == "imports.undeclared"]
    return out / "app.mar"


def test_premise_the_packages_are_not_installed_here():
    probe = subprocess.run([sys.executable, "-c", "import greetpkg, fastsum"], capture_output=True)
    assert probe.returncode != 0


def test_requirements_are_vendored_and_recorded(archive, project):
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        manifest = json.loads(zipped.read("MAR-INF/MANIFEST.json"))
    assert "lib/greetpkg.py" in names and f"{BOOTSTRAP_MODULE}.py" in names
    assert any(n.startswith("lib/fastsum.") and n.endswith(".so") for n in names)
    assert not any("__pycache__" in n or n.startswith("lib/bin/") for n in names)
    model = manifest["model"]
    assert model["handler"] == f"{BOOTSTRAP_MODULE}:handle"
    recorded = model["extensions"]["requirements"]
    assert recorded["handler"] == "app_service:handle"
    wheels = {w.name.split("-")[0]: w for w in (project / "wheels").glob("*.whl")}
    assert [(p["name"], p["version"]) for p in recorded["packages"]] == [("fastsum", "1.2"), ("greetpkg", "0.3")]
    for package in recorded["packages"]:
        assert package["sha256"] == hashlib.sha256(wheels[package["name"]].read_bytes()).hexdigest()
    listing = CliRunner().invoke(cli, ["inspect", str(archive), "--no-validate"])
    assert "user handler: app_service:handle (lib/ first on sys.path" in listing.output
    assert "fastsum==1.2, greetpkg==0.3" in listing.output


def test_local_run_imports_from_lib(archive, tmp_path):
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"name": "runner", "a": 40, "b": 2}))
    ran = CliRunner().invoke(cli, ["run", str(archive), "--input", str(request), "--json"])
    assert ran.exit_code == 0, ran.output
    body = json.loads(ran.output)["responses"][0]["body"]
    assert body["greeting"] == "hello runner" and body["sum"] == 42
    assert "/lib/fastsum." in body["fastsum_file"]


def test_undeclared_imports_warn_and_fail_strict_builds(tmp_path, project):
    runner = CliRunner()
    base = ["build", "--model-name", "app", "--model-path", str(project / "model"), "--handler",
            "app_service:handle", "--export-path", str(tmp_path), "--json"]
    warned = runner.invoke(cli, base)
    assert warned.exit_code == 0, warned.output
    flagged = sorted(p["message"].split("'")[1] for p in json.loads(warned.output)["problems"]
                     if p["code"] == "imports.undeclared")
    assert flagged == ["fastsum", "greetpkg"]  # service_sdk: installed with model-archiver or vendored
    strict = runner.invoke(cli, [*base, "--strict", "-f"])
    assert strict.exit_code == 3


def test_pip_failure_is_a_usage_error_and_leaves_nothing(tmp_path, project):
    requirements = tmp_path / "req.txt"
    requirements.write_text(f"--no-index\n--find-links {project / 'wheels'}\nno-such-package==1.0\n")
    result = CliRunner().invoke(cli, ["build", "--model-name", "app", "--model-path", str(project / "model"),
                                      "--handler", "app_service:handle", "--export-path", str(tmp_path / "out"),
                                      "--requirements", str(requirements)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [  # pip's reason, in one line, not its output
        "model-archiver: error: pip could not install req.txt: "
        "No matching distribution found for no-such-package==1.0"]
    assert not (tmp_path / "out" / "app.mar").exists()
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xbd\xff\x00" * 10)
    result = CliRunner().invoke(cli, ["build", "--model-name", "app", "--model-path", str(project / "model"),
                                      "--handler", "app_service:handle", "--export-path", str(tmp_path / "out"),
                                      "--requirements", str(binary)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "pip could not install binary.txt: UnicodeDecodeError" in result.stderr


@pytest.mark.mms
@pytest.mark.slow
@pytest.mark.skipif(java_missing_reason() is not None, reason=java_missing_reason() or "")
def test_stock_mms_serves_an_archive_with_vendored_requirements(archive, tmp_path):
    from tests.test_mms_vendored import stock_mms_python, without_pythonpath

    python = stock_mms_python()
    for module in ("greetpkg", "fastsum", "service_sdk"):
        probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, cwd=Path.home(),
                               env=without_pythonpath())
        assert probe.returncode != 0, f"{module} must not be installed in the stock server"
    with running_server(tmp_path / "stock-mms", python=python) as server:
        name = server.serve(archive, batch_size=1)
        answer = server.predict(name, json.dumps({"name": "mms", "a": 2, "b": 3}).encode(), "application/json")
        assert answer.status == 200, server.explain(answer)
        body = answer.json()
        assert body["greeting"] == "hello mms" and body["sum"] == 5
        assert "/lib/fastsum." in body["fastsum_file"]
        assert f"Python executable: {python}" in server.log_text(), server.logs_excerpt()
