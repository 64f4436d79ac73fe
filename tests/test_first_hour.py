"""The first hour of a new user: every slip gets one line that names the fix.

One test per message from issue 13: inputs are checked before outputs, a
wrong ``--model-path``/``--handler`` gets the likely correct value, a missing
optional dependency gets its install line, ``init`` never strands the user,
``--model-name``/``--handler`` come from the folder when it decides them, and
``--help`` shows examples and defaults. Real archives, real CLI, a real
environment without MXNet (a venv that links everything of this one but
mxnet) where its absence is the point.
"""
from __future__ import annotations

import ast
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver import build_archive
from model_archiver.cli import cli
from model_archiver.errors import ValidationFailed

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits" / "model"
HANDLER = "digits_service:handle"


def _cli(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args))
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args))
    finally:
        os.chdir(old)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("model-archiver: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def digits_copy(tmp_path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(DIGITS, target)
    return target


@pytest.fixture(scope="module")
def built_digits(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built")
    return build_archive(DIGITS, model_name="digits", handler=HANDLER, export_path=out).path


# --------------------------------------------------------------------------- inputs before outputs


def test_model_path_typo_with_existing_output_names_the_path_not_force(built_digits):
    result = _cli("--model-name", "digits", "--model-path", str(DIGITS.parent / "modle"), "--handler", HANDLER,
                  "--export-path", str(built_digits.parent))
    line = _one_error_line(result)
    assert result.exit_code == 2
    assert "does not exist" in line and "modle" in line and "--model-path" in line
    assert "-f" not in line.replace("--model-path", "")


def test_invalid_model_with_existing_output_reports_the_model_first(built_digits, digits_copy):
    (digits_copy / "signature.json").write_text("{not json")
    result = _cli("--model-name", "digits", "--model-path", str(digits_copy), "--handler", HANDLER,
                  "--export-path", str(built_digits.parent))
    assert result.exit_code == 3, result.stderr
    assert "signature.json" in result.stderr and "already exists" not in result.stderr


def test_missing_model_path_says_it_does_not_exist_in_validate(tmp_path):
    result = _cli("validate", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "does not exist" in _one_error_line(result)


def test_model_path_that_is_a_file_names_its_folder(tmp_path):
    result = _cli("--model-name", "digits", "--model-path", str(DIGITS / "digits_service.py"),
                  "--handler", HANDLER, "--export-path", str(tmp_path))
    assert result.exit_code == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- --handler hints


def test_dotted_handler_suggests_the_colon(tmp_path):
    result = _cli("--model-name", "digits", "--model-path", str(DIGITS), "--handler", "digits_service.handle",
                  "--export-path", str(tmp_path))
    assert result.exit_code == 2
    assert "did you mean --handler digits_service:handle" in _one_error_line(result)
    assert not list(tmp_path.glob("*.mar"))


def test_handler_one_folder_down_suggests_the_model_path(tmp_path):
    result = _cli("--model-name", "digits", "--model-path", str(DIGITS.parent), "--handler", HANDLER,
                  "--export-path", str(tmp_path))
    assert result.exit_code == 2
    assert f"did you mean --model-path {DIGITS}" in _one_error_line(result)


def test_relative_and_absolute_handler_paths_get_the_same_answer(tmp_path):
    relative = _cli("--model-name", "digits", "--model-path", "examples/digits/model", "--handler",
                    "examples/digits/model/digits_service:handle", "--export-path", str(tmp_path), cwd=REPO)
    absolute = _cli("--model-name", "digits", "--model-path", str(DIGITS), "--handler",
                    f"{DIGITS}/digits_service.py:handle", "--export-path", str(tmp_path))
    for result in (relative, absolute):
        assert result.exit_code == 2
        assert "did you mean --handler digits_service:handle" in _one_error_line(result)
    assert not list(tmp_path.glob("*.mar"))


def test_validate_gives_the_same_handler_hint():
    result = _cli("validate", str(DIGITS), "--handler", "digits_service.handle")
    assert result.exit_code == 2
    assert "did you mean --handler digits_service:handle" in _one_error_line(result)


# --------------------------------------------------------------------------- ValidationFailed


def test_validation_failed_str_names_the_problems(digits_copy, tmp_path):
    (digits_copy / "synset.txt").write_text("just one label\n")
    with pytest.raises(ValidationFailed) as caught:
        build_archive(digits_copy, model_name="digits", handler=HANDLER, export_path=tmp_path)
    text = str(caught.value)
    assert "synset.txt" in text and "label" in text
    assert text.startswith("validation failed with 1 error(s): ")


def test_cli_prints_each_problem_once(digits_copy, tmp_path):
    (digits_copy / "synset.txt").write_text("just one label\n")
    result = _cli("--model-name", "digits", "--model-path", str(digits_copy), "--handler", HANDLER,
                  "--export-path", str(tmp_path))
    assert result.exit_code == 3
    assert result.stderr.count("synset.txt") == 1, result.stderr


# --------------------------------------------------------------------------- signature.json, run


def test_missing_signature_run_error_names_the_archive_and_the_fix(digits_copy, tmp_path):
    (digits_copy / "signature.json").unlink()
    built = _cli("--model-name", "digits", "--model-path", str(digits_copy), "--handler", HANDLER,
                 "--export-path", str(tmp_path))
    assert built.exit_code == 0 and "signature.json" in built.stderr  # a warning at build time
    png = tmp_path / "x.png"
    shutil.copy(REPO / "templates" / "vision" / "request.png", png)
    result = _cli("run", str(tmp_path / "digits.mar"), "--input", str(png))
    line = _one_error_line(result)
    assert result.exit_code == 6
    assert str(tmp_path / "digits.mar") in line and "add signature.json" in line
    assert "model-archiver-run-" not in line


def test_run_prints_a_handler_warning_once(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "svc.py").write_text(
        "class Service:\n"
        "    def initialize(self, context):\n"
        "        raise RuntimeError('weights missing')\n"
        "    def handle(self, data, context):\n"
        "        return ['ok'] * len(data)\n")
    build_archive(model, model_name="svc", handler="svc", export_path=tmp_path)
    body = tmp_path / "request.json"
    body.write_text("{}")
    result = subprocess.run([sys.executable, "-m", "model_archiver", "run", str(tmp_path / "svc.mar"),
                             "--input", str(body)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("initialize raised") == 1, result.stderr


# --------------------------------------------------------------------------- without MXNet


@pytest.fixture(scope="module")
def no_mxnet_python(tmp_path_factory) -> Path:
    """A real venv holding everything this one has except MXNet (entries linked, nothing installed)."""
    import sysconfig

    venv = tmp_path_factory.mktemp("no-mxnet") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    target = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    source = Path(sysconfig.get_paths()["purelib"])
    for entry in source.iterdir():
        if not entry.name.lower().startswith("mxnet") and not (target / entry.name).exists():
            (target / entry.name).symlink_to(entry)
    probe = subprocess.run([str(python), "-c", "import model_archiver, numpy, PIL, service_sdk; import mxnet"],
                           capture_output=True, text=True)
    assert "No module named 'mxnet'" in probe.stderr, probe.stderr
    return python


def test_run_without_mxnet_names_the_extra(no_mxnet_python, built_digits, tmp_path):
    png = tmp_path / "x.png"
    shutil.copy(REPO / "templates" / "vision" / "request.png", png)
    result = subprocess.run([str(no_mxnet_python), "-m", "model_archiver", "run", str(built_digits),
                             "--input", str(png)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 6, result.stderr
    assert "pip install 'model-archiver[mxnet]'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["validate", str(DIGITS), "--check-shapes"],
                                     ["--model-name", "digits", "--model-path", str(DIGITS), "--handler", HANDLER,
                                      "--check-shapes"]], ids=["validate", "build"])
def test_check_shapes_without_mxnet_is_an_error_with_the_extra(no_mxnet_python, command, tmp_path):
    result = subprocess.run([str(no_mxnet_python), "-m", "model_archiver", *command, *(
        ["--export-path", str(tmp_path)] if "--model-name" in command else [])],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "--check-shapes" in result.stderr and "pip install 'model-archiver[mxnet]'" in result.stderr
    assert not list(tmp_path.glob("*.mar"))


# --------------------------------------------------------------------------- init


def test_init_over_existing_files_points_to_force_and_force_replaces_only_its_files(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "signature.json").write_text("mine")
    (model / "digits-symbol.json").write_text("{}")
    refused = _cli("init", str(model))
    assert refused.exit_code == 2
    assert "--force" in _one_error_line(refused)
    assert (model / "signature.json").read_text() == "mine"
    forced = _cli("init", "--force", str(model))
    assert forced.exit_code == 0, forced.stderr
    assert "PLACEHOLDER" in (model / "signature.json").read_text()
    assert (model / "digits-symbol.json").read_text() == "{}"


def test_init_below_a_file_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = _cli("init", str(tmp_path / "afile" / "model"))
    assert result.exit_code == 2
    assert "afile is a file" in _one_error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_init_into_a_read_only_filesystem_is_one_line():
    target = Path("/sys/model-archiver-init-test")
    if not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux sysfs at /sys (no new folders there, even for root)")
    result = _cli("init", str(target))
    assert result.exit_code == 2, result.stderr
    assert "choose a folder you can write to" in _one_error_line(result)
    assert not target.exists()


def test_init_on_a_full_disk_leaves_no_partial_file(tmp_path):
    """A file-size limit makes every write past 64 bytes fail as a full disk does (EFBIG instead of ENOSPC)."""
    target = tmp_path / "model"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    result = subprocess.run([sys.executable, "-m", "model_archiver", "init", str(target)], capture_output=True,
                            text=True, timeout=120, preexec_fn=limit)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("model-archiver: error:")]
    assert len(errors) == 1 and "nothing was written" in errors[0] and "Traceback" not in result.stderr
    assert not target.exists()


# --------------------------------------------------------------------------- defaults from the folder


def test_validate_dir_alone_infers_and_says_so_in_one_line():
    result = _cli("validate", str(DIGITS))
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "inferred" in line]
    assert notes == [f"inferred from {DIGITS}: --model-name digits, --handler digits_service:handle"]


def test_build_without_name_and_handler_records_the_inferred_values(digits_copy, tmp_path):
    (digits_copy / "model-archiver.toml").unlink()  # the example's config names both: infer instead
    result = _cli("--model-path", str(digits_copy), "--export-path", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)["manifest"]
    assert manifest["model"]["modelName"] == "digits" and manifest["model"]["handler"] == HANDLER
    assert "inferred" not in result.stderr  # --json: stdout is the report, stderr stays quiet
    plain = _cli("--model-path", str(digits_copy), "--export-path", str(tmp_path), "-f")
    assert plain.exit_code == 0, plain.stderr
    assert f"inferred from {digits_copy}: --model-name digits, --handler {HANDLER}" in plain.stderr.splitlines()


def test_ambiguous_handlers_are_listed(digits_copy):
    (digits_copy / "other_service.py").write_text("def handle(data, context):\n    return data\n")
    (digits_copy / "helpers.py").write_text("X = 1\n")
    result = _cli("validate", str(digits_copy))
    line = _one_error_line(result)
    assert result.exit_code == 2
    assert "digits_service:handle" in line and "other_service:handle" in line and "helpers" not in line


def test_ambiguous_checkpoints_are_listed(digits_copy):
    shutil.copy(digits_copy / "digits-symbol.json", digits_copy / "other-symbol.json")
    result = _cli("validate", str(digits_copy), "--handler", HANDLER)
    line = _one_error_line(result)
    assert result.exit_code == 2 and "digits" in line and "other" in line and "--model-name" in line


def test_class_with_handle_is_a_bare_module_candidate(tmp_path):
    from model_archiver.packaging.folder_defaults import resolve

    (tmp_path / "svc.py").write_text("class S:\n    def handle(self, data, context):\n        return data\n")
    (tmp_path / "m-symbol.json").write_text("{}")
    found = resolve(tmp_path, None, None)
    assert (found.model_name, found.handler, found.inferred) == ("m", "svc", ("--model-name", "--handler"))


# --------------------------------------------------------------------------- --help


@pytest.mark.parametrize("command", ["build", "inspect", "verify", "validate", "import-onnx", "run", "init"])
def test_help_has_examples_and_defaults(command):
    result = _cli(command, "--help")
    assert result.exit_code == 0
    examples = [line for line in result.output.splitlines() if line.strip().startswith("model-archiver ")]
    assert 1 <= len(examples), result.output
    options = result.output[result.output.index("Options:"):]
    for option in _options_with_defaults(command):
        entry = re.search(rf"^ +(-\w, )?{re.escape(option)}\b[^\n]*(\n {{20,}}[^\n]*)*", options, re.M)
        assert entry and "[default:" in entry[0], f"{command} {option}: no default shown"


def _options_with_defaults(command: str) -> list[str]:
    """Options whose click default is a value (not a flag, not None): their help must show it."""
    import click

    group_command = cli.get_command(click.Context(cli), command)
    return [param.opts[-1] for param in group_command.params
            if isinstance(param, click.Option) and not (param.is_flag or param.multiple or param.count)
            and param.default is not None and type(param.default).__name__ != "Sentinel" and not param.hidden]


def test_build_help_describes_runtime_and_input_type_default():
    text = _cli("build", "--help").output
    runtime = text[text.index("--runtime"):text.index("--export-path")]
    assert "interpreter" in runtime and "[default: python]" in runtime
    input_type = text[text.index("--input-type"):text.index("--model-version")]
    assert "[default: application/json]" in input_type


def test_top_level_help_points_to_build_help_for_mms_flags():
    assert "model-archiver build --help" in _cli("--help").output


# --------------------------------------------------------------------------- docs agree with the code


def test_readme_python_versions_agree_with_requires_python():
    pyproject = (REPO / "pyproject.toml").read_text()
    spec = re.search(r'^requires-python = "(.+)"', pyproject, re.M)[1]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", spec).groups()
    readme = (REPO / "README.md").read_text()
    assert f"`requires-python = \"{spec}\"`" in readme
    assert f"Python 3.{low}" in readme and f"3.{int(high) - 1}" in readme
    assert f"Python 3.{low}–3.{int(high) - 1}" in (REPO / "docs" / "quickstart.md").read_text()


def test_sources_parse_as_the_oldest_supported_python():
    spec = re.search(r'^requires-python = ">=3\.(\d+)', (REPO / "pyproject.toml").read_text(), re.M)
    oldest = (3, int(spec[1]))
    for package in ("model_archiver", "service_sdk", "templates"):
        for path in (REPO / package).rglob("*.py"):
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=oldest)


def test_readme_validate_synopsis_marks_name_and_handler_optional():
    synopsis = next(line for line in (REPO / "README.md").read_text().splitlines()
                    if line.startswith("model-archiver validate DIR"))
    assert "[--model-name NAME]" in synopsis and "[--handler " in synopsis


def test_onnx_readme_builds_with_the_input_type_demo_uses():
    readme = (REPO / "examples" / "onnx" / "README.md").read_text()
    demo = (REPO / "examples" / "onnx" / "demo.py").read_text()
    assert '"--input-type", "image/png"' in demo
    build = readme[readme.index("model-archiver --model-name digits"):]
    assert "--input-type image/png" in build[:build.index("\n#")]


def test_resnet_example_checks_the_image_before_the_242_mb_build(tmp_path):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPO / "examples" / "resnet-152-eia" / "build_archive.py"),
                             "--image", "kitten.jpg", "--out", str(tmp_path / "out")], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert "kitten.jpg does not exist" in result.stderr and "--image" in result.stderr
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - started < 30


def test_validate_one_folder_up_suggests_the_model_path():
    result = _cli("validate", str(DIGITS.parent))
    assert result.exit_code == 2
    assert f"did you mean --model-path {DIGITS}?" in _one_error_line(result)
