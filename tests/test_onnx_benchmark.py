"""The conformance benchmark's report shape, on three real backend cases (the full sweep is
``benchmarks/onnx_conformance.py``, not run in CI)."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "onnx_conformance.py"


def _load():
    spec = importlib.util.spec_from_file_location("onnx_conformance", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_cases_give_a_table_per_suite_and_importer(tmp_path, capsys):
    benchmark = _load()
    rows = tmp_path / "rows.json"
    assert benchmark.main(["--suite", "pytorch-operator", "--match", "test_operator_(exp|mm|maxpool)$",
                           "--jobs", "1", "--timeout", "300", "-q", "--json", str(rows)]) == 0
    table = capsys.readouterr().out
    header = "| suite | importer | cases | PASS | MISMATCH | REFUSED named | REFUSED unnamed | CRASH | TIMEOUT |"
    assert header in table
    for importer in ("ours", "mxnet"):
        line = next(line for line in table.splitlines() if line.startswith(f"| pytorch-operator | {importer} |"))
        counts = [int(cell) for cell in line.strip("|").split("|")[2:]]
        assert counts[0] == 3 and sum(counts[1:]) == 3
    assert re.search(r"\| ours \(all\) \| 3 \| [\d.]+ \| [\d.]+ \|", table)
    results = json.loads(rows.read_text())
    assert {(r["name"], r["mode"]) for r in results} == {
        (name, mode) for name in ("test_operator_exp", "test_operator_mm", "test_operator_maxpool")
        for mode in ("ours", "mxnet")}
    mm = next(r for r in results if r["name"] == "test_operator_mm" and r["mode"] == "ours")
    assert mm["verdict"] == "REFUSED named" and "different first (batch) dimensions" in mm["detail"]
    exp = next(r for r in results if r["name"] == "test_operator_exp" and r["mode"] == "ours")
    assert exp["verdict"] == "PASS"
