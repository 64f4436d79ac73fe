"""``--config`` / ``model-archiver.toml``: options from a reviewed file, flags on top, serving settings in the manifest."""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver.cli import cli
from model_archiver.config import build_from_config, load_config
from model_archiver.errors import UsageError
from model_archiver.schema import load_schema

DIGITS = Path(__file__).resolve().parents[1] / "examples" / "digits" / "model"


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    """The digits model folder without its own config file."""
    target = tmp_path / "model"
    shutil.copytree(DIGITS, target, ignore=shutil.ignore_patterns("model-archiver.toml", "__pycache__"))
    return target


def manifest_of(archive: Path) -> dict:
    with zipfile.ZipFile(archive) as zipped:
        return json.loads(zipped.read("MAR-INF/MANIFEST.json"))


def test_model_folder_config_is_used_and_left_out_of_the_archive(tmp_path, model):
    (model / "model-archiver.toml").write_text('''# reviewed build settings
model-name = "digits"
handler = "digits_service:handle"
export-path = "../out"
model-version = "2.1"
author = "Digits Team"
exclude = ["synset.txt"]

[serving]
batch-size = 8
max-batch-delay-ms = 25
min-workers = 1
max-workers = 2
response-timeout-s = 30
''')
    result = CliRunner().invoke(cli, ["build", "--model-path", str(model), "--json"])
    assert result.exit_code == 0, result.output
    archive = tmp_path / "out" / "digits.mar"
    assert json.loads(result.output)["path"] == str(archive)
    manifest = manifest_of(archive)
    assert manifest["model"]["modelVersion"] == "2.1" and manifest["publisher"]["author"] == "Digits Team"
    assert manifest["model"]["extensions"]["serving"] == {
        "batch_size": 8, "max_batch_delay_ms": 25, "min_workers": 1, "max_workers": 2, "response_timeout_s": 30}
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert "model-archiver.toml" not in names and "synset.txt" not in names and "digits_service.py" in names


def test_command_line_flags_override_the_file(tmp_path, model):
    config = tmp_path / "ci.toml"
    config.write_text(f'model-name = "digits"\nhandler = "digits_service:handle"\nmodel-path = "model"\n'
                      f'model-version = "1.0"\narchive-format = "tgz"\nexport-path = "from-config"\n')
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--model-version", "9.9",
                                      "--archive-format", "default", "--export-path", str(tmp_path / "flags")])
    assert result.exit_code == 0, result.output
    assert manifest_of(tmp_path / "flags" / "digits.mar")["model"]["modelVersion"] == "9.9"
    assert not (tmp_path / "from-config").exists()


@pytest.mark.parametrize("text, message", [
    ('model-name = "digits"\n\nmodle-version = "1"\n', ":3: unknown key 'modle-version'"),
    ('model-name = "digits"\n[serving]\nbatch-size = 2\nworkers = 3\n', ":4: unknown key 'serving.workers'"),
    ('model-name = "digits"\n[serving]\nbatch-size = 0\n', ":3: serving.batch-size: 0 is less than the minimum"),
    ('[serving]\nmin-workers = 4\nmax-workers = 2\n', ":2: serving.min-workers (4) is larger than max-workers"),
    ('model-name = "digits\n', "not valid TOML"),
    ('[[example]]\ninput = "a.png"\nexpected = "a.json"\n', ":3: unknown key 'example.expected'"),
    ("a = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply to be a build config"),
    ("# " + "x" * (2 * 1024 * 1024) + "\n", "over the 1048576-byte limit"),
    ('[input-shape]\ndata = [1, -3]\n', ":2: input-shape.data: -3 is less than the minimum of 1"),
])
def test_bad_config_is_one_line_with_file_and_line_and_exit_2(tmp_path, model, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--model-path", str(model),
                                      "--export-path", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{config}" in result.output and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # not even the export folder


@pytest.mark.parametrize("path", ["/dev/zero", "fifo"])
def test_config_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, model, path):
    config = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "fifo"}[path]
    if path == "fifo":
        os.mkfifo(config)
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--model-path", str(model),
                                      "--export-path", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"model-archiver: error: config file {config} is not a regular file "
                                     "(devices, FIFOs and folders are refused)")


def test_python_api_builds_from_a_config_with_examples(tmp_path, model):
    digit = tmp_path / "digit.png"
    digit.write_bytes(b"\x89PNG\r\n\x1a\n")
    config = model / "model-archiver.toml"
    config.write_text('model-name = "digits"\nhandler = "digits_service:handle"\nno-validate = true\n'
                      '[[example]]\ninput = "../digit.png"\ncontent-type = "image/png"\n')
    with pytest.raises(UsageError, match="not a directory|exists"):
        build_from_config(config, export_path=model / "digits-symbol.json")
    result = build_from_config(config, export_path=tmp_path / "api", archive_format="no-archive")
    index = json.loads((result.path / "MAR-INF" / "examples" / "index.json").read_text())
    assert index["examples"][0]["content_type"] == "image/png"
    assert not (result.path / "model-archiver.toml").exists()


def test_schema_ships_and_lists_every_build_flag():
    schema = load_schema("build-config")
    build = cli.get_command(None, "build")
    flags = {opt.lstrip("-") for p in build.params for opt in p.opts if opt.startswith("--")}
    # --config names the file; output, logging and one-run flags are not build settings.
    not_settings = {"config", "json", "quiet", "verbose", "help", "expect", "example"}
    missing = flags - not_settings - set(schema["properties"])
    assert not missing, f"flags without a config key: {sorted(missing)}"
    assert load_config.__doc__


def test_unknown_key_line_is_found_inside_its_table(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('batch-size = 1\n[serving]\nbatch-size = 2\nbatch_size = 3\n')
    with pytest.raises(UsageError, match=r"c.toml:1: unknown key 'batch-size'"):
        load_config(config)
