"""``model-archiver init`` scaffolds: copied safely, and archives built from them serve the digits model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from model_archiver.cli import cli
from model_archiver.templates import HANDLER, TEMPLATES, template_files
from service_sdk.runner import RequestInput, run_archive
from tests.conftest import DIGITS_NAME
from tests.support import digits


def _init(template: str, directory: Path):
    return CliRunner().invoke(cli, ["init", "--template", template, str(directory)])


def _scaffold_with_digits(template: str, digits_export: Path, directory: Path) -> Path:
    """init into an empty folder, then add the digits model (its signature replaces the template's)."""
    assert _init(template, directory).exit_code == 0
    for path in digits_export.iterdir():
        shutil.copy(path, directory / path.name)
    return directory


def _build(model_dir: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(cli, ["--model-name", DIGITS_NAME, "--model-path", str(model_dir),
                                      "--handler", HANDLER, "--export-path", str(out), *extra])
    assert result.exit_code == 0, result.output + result.stderr
    return out / f"{DIGITS_NAME}.mar"


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_init_writes_a_handler_a_signature_and_a_readme(template, tmp_path):
    result = _init(template, tmp_path / "model")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "model").iterdir())
    request = "request.png" if template == "vision" else "request.json"
    assert names == sorted(["README-service.md", "model_handler.py", request, "signature.json"])
    assert names == [name for name, _ in template_files(template)]
    json.loads((tmp_path / "model" / "signature.json").read_text())
    source = (tmp_path / "model" / "model_handler.py").read_text()
    compile(source, "model_handler.py", "exec")
    assert "entry_point()" in source


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "signature.json").write_text("mine")
    result = _init("vision", model_dir)
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.stderr and "signature.json" in result.stderr
    assert "--force" in result.stderr
    assert (model_dir / "signature.json").read_text() == "mine"
    assert sorted(p.name for p in model_dir.iterdir()) == ["signature.json"]


def test_unknown_template_is_a_usage_error(tmp_path):
    result = _init("resnet", tmp_path)
    assert result.exit_code == 2 and "resnet" in result.stderr


def test_vision_template_with_vendored_sdk_classifies_held_out_digits(trained_digits, digits_export, tmp_path):
    _, split = trained_digits
    model_dir = _scaffold_with_digits("vision", digits_export, tmp_path / "model")
    archive = _build(model_dir, tmp_path / "out", "--vendor-sdk")
    x, y = split.x_test[:40], split.y_test[:40]
    result = run_archive(archive, [RequestInput(digits.render_png(item), "image/png") for item in x], batch_size=8)
    assert result.ok
    predicted = np.array([int(r.json()[0]["class"].split()[-1]) for r in result.responses])
    assert (predicted == y).mean() >= 0.95


@pytest.mark.parametrize("template", ["mxnet", "gluon"])
def test_tensor_templates_serve_json_requests(template, trained_digits, digits_export, tmp_path):
    import mxnet as mx

    net, split = trained_digits
    model_dir = _scaffold_with_digits(template, digits_export, tmp_path / "model")
    archive = _build(model_dir, tmp_path / "out")
    x = split.x_test[:5]
    requests = [RequestInput(json.dumps(item.tolist()).encode(), "application/json") for item in x]
    requests.insert(2, RequestInput(b"[1, 2, 3]", "application/json"))
    result = run_archive(archive, requests, batch_size=2)
    assert [r.status for r in result.responses] == [200, 200, 400, 200, 200, 200]
    served = np.array([list(r.json().values())[0] for i, r in enumerate(result.responses) if i != 2])
    np.testing.assert_allclose(served, net(mx.nd.array(x)).asnumpy(), rtol=1e-4, atol=1e-4)


def test_custom_template_runs_as_shipped(tmp_path):
    model_dir = tmp_path / "model"
    assert _init("custom", model_dir).exit_code == 0
    archive = _build(model_dir, tmp_path / "out")
    requests = [RequestInput(b'{"text": "three little words"}', "application/json"),
                RequestInput(b'{"txt": 1}', "application/json"),
                RequestInput(b'{"text": "one"}', "application/json")]
    result = run_archive(archive, requests)
    assert [r.status for r in result.responses] == [200, 400, 200]
    assert [result.responses[0].json(), result.responses[2].json()] == [{"words": 3}, {"words": 1}]


def _readme_steps(model_dir: Path) -> str:
    """The shell block of the scaffold's README-service.md, exactly as printed."""
    from tests.support.doc_blocks import parse_blocks

    blocks = [b for b in parse_blocks((model_dir / "README-service.md").read_text(), "README-service.md")
              if b.lang == "bash"]
    assert len(blocks) == 1
    return blocks[0].code


@pytest.mark.slow
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_readme_steps_run_literally_end_in_a_200(template, digits_export, tmp_path):
    """init, add an exported model (its signature replaces the placeholders), run the README: a 200."""
    model_dir = tmp_path / "model"
    if template == "custom":
        assert _init(template, model_dir).exit_code == 0
    else:
        _scaffold_with_digits(template, digits_export, model_dir)
    steps = _readme_steps(model_dir)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", steps], cwd=model_dir, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    request = "request.png" if template == "vision" else "request.json"
    assert f"[0] {request}: 200" in result.stdout.splitlines()[-2]
    if template == "custom":
        assert json.loads(result.stdout.splitlines()[-1]) == {"words": 3}
    assert "inferred from .: " in result.stderr  # the values taken from the folder are reported


@pytest.mark.parametrize("template", ["vision", "mxnet", "gluon"])
def test_placeholder_outputs_left_unchanged_are_explained(template, digits_export, tmp_path):
    """The template's signature next to a real checkpoint: validation names the placeholder and the real output."""
    model_dir = tmp_path / "model"
    assert _init(template, model_dir).exit_code == 0
    for name in ("digits-symbol.json", "digits-0000.params"):
        shutil.copy(digits_export / name, model_dir / name)
    result = CliRunner().invoke(cli, ["validate", str(model_dir)])
    assert result.exit_code == 3
    placeholder = [line for line in result.stderr.splitlines() if "PLACEHOLDER" in line]
    assert placeholder and "dense1_fwd" in placeholder[0], result.stderr
    assert "placeholder" in json.loads((model_dir / "signature.json").read_text())["_placeholders"]
