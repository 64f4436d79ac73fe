"""``model-archiver diff``: files from the RECORDs, manifest keys, and .params names/shapes/dtypes from headers."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver.cli import cli
from model_archiver.reading.diff import diff_archives

DIGITS = Path(__file__).resolve().parents[1] / "examples" / "digits" / "model"
BASE = ["--model-name", "digits", "--handler", "digits_service:handle", "--no-validate"]


def build(folder: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(cli, ["build", *BASE, "--model-path", str(folder), "--export-path", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out / ("digits" if "no-archive" in extra else "digits.mar")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The shipped digits archive, and one whose checkpoint was reshaped, retyped and extended with MXNet."""
    mx = pytest.importorskip("mxnet")
    root = tmp_path_factory.mktemp("diff")
    plain, changed = root / "plain", root / "changed"
    for folder in (plain, changed):  # without the example's build config: only the flags below apply
        shutil.copytree(DIGITS, folder, ignore=shutil.ignore_patterns("model-archiver.toml", "__pycache__"))
    params = mx.nd.load(str(changed / "digits-0000.params"))
    names = sorted(params)
    reshaped, retyped, dropped = names[0], names[1], names[2]
    params[reshaped] = mx.nd.zeros((3,) + params[reshaped].shape)
    params[retyped] = params[retyped].astype("float16")
    del params[dropped]
    params["arg:extra_bias"] = mx.nd.ones((7,))
    mx.nd.save(str(changed / "digits-0000.params"), params)
    (changed / "notes.txt").write_text("retrained\n")
    (changed / "synset.txt").unlink()
    old = build(plain, root / "a")
    new = build(changed, root / "b", "--model-version", "2.0", "--archive-format", "no-archive")
    return old, new, {"reshaped": reshaped, "retyped": retyped, "dropped": dropped, "plain": plain}


def test_diff_reports_files_manifest_and_parameters(pair):
    old, new, names = pair
    result = CliRunner().invoke(cli, ["diff", str(old), str(new), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["added"] == ["notes.txt"] and report["removed"] == ["synset.txt"]
    assert report["changed"] == ["MAR-INF/MANIFEST.json", "digits-0000.params"]
    assert {"key": "model.modelVersion", "a": "<absent>", "b": "2.0"} in report["manifest"]
    [params] = report["params"]
    assert params["file"] == "digits-0000.params"
    assert list(params["added"]) == ["arg:extra_bias"] and params["added"]["arg:extra_bias"] == [[7], "float32"]
    assert list(params["removed"]) == [names["dropped"]]
    assert set(params["changed"]) == {names["reshaped"], names["retyped"]}
    assert params["changed"][names["reshaped"]]["b"][0][0] == 3
    assert params["changed"][names["retyped"]]["a"][1] == "float32"
    assert params["changed"][names["retyped"]]["b"][1] == "float16"

    text = CliRunner().invoke(cli, ["diff", str(old), str(new)])
    assert text.exit_code == 1
    assert "+ notes.txt" in text.output and "- synset.txt" in text.output
    assert f"digits-0000.params: ~ {names['retyped']}" in text.output


def test_identical_archives_exit_0_whatever_their_format(pair, tmp_path):
    old = pair[0]
    build(pair[2]["plain"], tmp_path, "--archive-format", "tgz")
    same = tmp_path / "digits.tar.gz"
    result = CliRunner().invoke(cli, ["diff", str(old), str(same)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("same:")
    assert diff_archives(old, same).same


def test_unreadable_input_is_exit_2(tmp_path, pair):
    junk = tmp_path / "junk.mar"
    junk.write_bytes(b"not a zip")
    result = CliRunner().invoke(cli, ["diff", str(pair[0]), str(junk)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
