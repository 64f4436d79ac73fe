"""Packaging metadata and import-cost rules that keep the install honest."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    """An editable install finds unlisted subpackages anyway; a wheel would silently drop them."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("model_archiver", "service_sdk")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found | {"model_archiver.templates"} == listed


def test_manifest_rules_in_code_match_the_schema():
    """Builds check names and handlers with regexes (no jsonschema import); the schema says the same."""
    from model_archiver.layout import HANDLER_PATTERN, MODEL_NAME_PATTERN
    from model_archiver.manifest import RUNTIMES
    from model_archiver.schema import load_schema

    model = load_schema("manifest")["properties"]["model"]["properties"]
    assert model["modelName"]["pattern"] == MODEL_NAME_PATTERN.pattern
    assert model["handler"]["pattern"] == HANDLER_PATTERN.pattern
    assert tuple(load_schema("manifest")["properties"]["runtime"]["enum"]) == RUNTIMES


def test_schemas_ship_as_package_data():
    from model_archiver.schema import load_schema

    assert load_schema("manifest")["required"] == ["runtime", "model"]
    assert load_schema("signature")["type"] == "object"


def test_build_inspect_verify_never_import_mxnet_or_onnx(digits_dir, tmp_path):
    """The builder reads JSON and .params headers itself; MXNet's ~1.6 s import is for serving only."""
    (digits_dir / "service.py").write_text("def handle(data, context):\n    return data\n")
    script = f"""
import sys
from model_archiver import build_archive, inspect_archive, verify_archive
from model_archiver.cli import cli
result = build_archive({str(digits_dir)!r}, model_name="digits", handler="service:handle",
                       export_path={str(tmp_path)!r})
assert not inspect_archive(result.path).problems
assert verify_archive(result.path).ok
print(sorted(m for m in sys.modules if m.split(".")[0] in ("mxnet", "onnx", "onnxruntime")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
