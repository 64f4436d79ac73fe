"""Example requests stored in archives: build --example/--expect, inspect, run without --input, compare()."""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from model_archiver import build_archive, open_archive
from model_archiver.cli import cli
from model_archiver.request_examples import ExampleSpec, compare, load_examples

# A pure-Python handler whose answer the test can compute on its own: the mean of "values".
MEAN_HANDLER = '''import json


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
        values = body["values"]
        answers.append(json.dumps({"mean": sum(values) / len(values), "count": len(values)}))
    return answers
'''


@pytest.fixture()
def mean_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "mean_service.py").write_text(MEAN_HANDLER)
    return model


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def build(runner: CliRunner, model: Path, out: Path, *extra: str):
    return runner.invoke(cli, ["build", "--model-name", "mean", "--model-path", str(model),
                               "--handler", "mean_service:handle", "--export-path", str(out), *extra])


def test_examples_are_stored_listed_and_checked_by_run(tmp_path, mean_model):
    values = [1.0, 2.0, 4.0]
    request = write_json(tmp_path / "three.json", {"values": values})
    right = write_json(tmp_path / "three.expected.json", {"mean": round(sum(values) / 3, 4), "count": 3})
    other = write_json(tmp_path / "pair.json", {"values": [10, 20]})
    runner = CliRunner()
    result = build(runner, mean_model, tmp_path / "out", "--example", str(request), "--expect", str(right),
                   "--example", str(other))
    assert result.exit_code == 0, result.output
    archive = tmp_path / "out" / "mean.mar"
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
    assert {"MAR-INF/examples/three.json", "MAR-INF/examples/three.expected.json", "MAR-INF/examples/pair.json",
            "MAR-INF/examples/index.json"} <= names

    with open_archive(archive) as reader:
        examples = load_examples(reader)
    assert [(e.name, e.content_type, e.expected) for e in examples] == [
        ("three", "application/json", json.loads(right.read_text())), ("pair", "application/json", None)]
    assert examples[0].body == request.read_bytes()

    listing = runner.invoke(cli, ["inspect", str(archive), "--no-validate"])
    assert "example:  three (application/json" in listing.output and "expects an answer" in listing.output
    listed = json.loads(runner.invoke(cli, ["inspect", str(archive), "--json", "--no-validate"]).output)
    assert [e["name"] for e in listed["examples"]] == ["three", "pair"]

    ran = runner.invoke(cli, ["run", str(archive), "--json"])
    assert ran.exit_code == 0, ran.output
    verdicts = {e["name"]: e["verdict"] for e in json.loads(ran.output)["examples"]}
    assert verdicts == {"three": "match", "pair": "answered (no expected answer stored)"}
    assert runner.invoke(cli, ["verify", str(archive)]).exit_code == 0


def test_run_exits_1_and_names_the_difference_on_a_wrong_answer(tmp_path, mean_model):
    request = write_json(tmp_path / "req.json", {"values": [1, 2]})
    wrong = write_json(tmp_path / "wrong.json", {"mean": 1.6, "count": 2})
    runner = CliRunner()
    assert build(runner, mean_model, tmp_path / "out", "--example", str(request), "--expect", str(wrong)).exit_code == 0
    ran = runner.invoke(cli, ["run", str(tmp_path / "out" / "mean.mar")])
    assert ran.exit_code == 1
    assert "req: HTTP 200 mismatch: $.mean: expected 1.6, got 1.5" in ran.output
    loose = runner.invoke(cli, ["run", str(tmp_path / "out" / "mean.mar"), "--rtol", "0.1"])
    assert loose.exit_code == 0, loose.output


def test_bad_example_options_are_usage_errors(tmp_path, mean_model):
    request = write_json(tmp_path / "req.json", {"values": [1]})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    runner = CliRunner()
    lonely = build(runner, mean_model, tmp_path / "out", "--expect", str(request), "--example", str(request))
    assert lonely.exit_code == 2 and "--expect must follow the --example" in lonely.output
    bad = build(runner, mean_model, tmp_path / "out", "--example", str(request), "--expect", str(broken))
    assert bad.exit_code == 2 and "broken.json is not valid JSON" in bad.output
    assert not (tmp_path / "out" / "mean.mar").exists()
    no_examples = build(runner, mean_model, tmp_path / "out2")
    assert no_examples.exit_code == 0
    ran = runner.invoke(cli, ["run", str(tmp_path / "out2" / "mean.mar")])
    assert ran.exit_code == 2 and "has no stored examples" in ran.output


def test_python_api_stores_examples(tmp_path, mean_model):
    request = write_json(tmp_path / "a b.json", {"values": [3]})
    result = build_archive(mean_model, model_name="mean", handler="mean_service:handle", export_path=tmp_path,
                           examples=[ExampleSpec(request), ExampleSpec(request)], archive_format="no-archive")
    with open_archive(result.path) as reader:
        assert [e.name for e in load_examples(reader)] == ["a-b", "a-b-2"]
    assert result.manifest["model"]["extensions"]["examples"] == 2


@pytest.mark.parametrize("index, message", [
    ("[" * 5000 + "]" * 5000, "MAR-INF/examples/index.json is nested deeper than 64 levels"),
    ('{"examples": [{"input": "../../../etc/passwd"}]}', "unsafe example file name '../../../etc/passwd'"),
    ('{"examples": [{"input": "a.json", "expected": "' + "9" * 5000 + '.json"}]}', "missing from the archive"),
    ('{"examples": 1' + "0" * 5000 + '}', "has a number longer than"),
])
def test_hostile_example_index_is_one_line_and_exit_2(tmp_path, mean_model, index, message):
    request = write_json(tmp_path / "a.json", {"values": [3]})
    result = build_archive(mean_model, model_name="mean", handler="mean_service:handle", export_path=tmp_path,
                           examples=[ExampleSpec(request)], archive_format="no-archive")
    (result.path / "MAR-INF" / "examples" / "index.json").write_text(index)
    outcome = CliRunner().invoke(cli, ["run", str(result.path)])
    assert outcome.exit_code == 2, outcome.output
    assert len(outcome.stderr.strip().splitlines()) == 1 and message in outcome.stderr, outcome.stderr


@pytest.mark.parametrize("expected, actual, where", [
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, "$.a: expected 2 items, got 3"),
    ({"a": 1}, {"b": 1}, "$: missing key 'a'"),
    ([{"class": "cat"}], [{"class": "dog"}], "$[0].class: expected 'cat', got 'dog'"),
    (True, 1, "$: expected True, got 1"),
    ("text", b"other", "$: expected 'text', got 'other'"),
])
def test_compare_says_where_answers_differ(expected, actual, where):
    assert compare(expected, actual) == where


def test_compare_parses_raw_json_responses():
    assert compare([{"probability": 0.25}], b'[{"probability": 0.2500001}]') is None
    assert compare({"x": 1}, "not json") == "$: expected {'x': 1}, got 'not json'"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e-4, 1e-4, allow_nan=False))
def test_compare_accepts_exactly_the_numbers_within_tolerance(value, noise):
    actual = value * (1 + noise)
    within = math.isclose(actual, value, rel_tol=1e-3, abs_tol=1e-5)
    assert (compare({"v": [value]}, {"v": [actual]}) is None) == within
    assert compare({"v": value}, {"v": value + 1 + abs(value) * 1e-2}) is not None
