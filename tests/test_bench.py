"""``model-archiver bench``: the report's shape, and that every configuration ran as it claims.

No timing is asserted: the numbers depend on the machine and its load. What
is asserted is what the numbers are attached to - the workers MMS reported
READY, ``OMP_NUM_THREADS`` read from each worker process's environment, the
batch size the server registered, enough clients - and that the derived
columns follow the study's formulas from the measured ones.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model_archiver.errors import UsageError
from model_archiver.server.bench import auto_configs, parse_batch_sizes, parse_configs
from model_archiver.server.loadgen import percentile
from tests.support import digits
from tests.support.mms import server_missing_reason

REPO = Path(__file__).resolve().parents[1]
HOURLY = 0.1
TARGET_RPS = 5000.0


def test_configs_parse_and_auto_fills_the_cores():
    assert parse_configs("1x1, 1x2,2x1,1x1") == [(1, 1), (1, 2), (2, 1)]
    assert parse_configs("auto", cores=4) == [(1, 1), (1, 4), (2, 2), (4, 1)]
    assert parse_configs("auto", cores=2) == [(1, 1), (1, 2), (2, 1)]
    assert auto_configs(1) == [(1, 1)]
    assert parse_batch_sizes("1,4,8") == [1, 4, 8]
    for bad in ("2", "0x1", "ax1"):
        with pytest.raises(UsageError):
            parse_configs(bad)
    with pytest.raises(UsageError):
        parse_batch_sizes("1,0")


def test_percentile_interpolates():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0], 100) == 2.0
    assert math.isnan(percentile([], 90))


@pytest.fixture(scope="module")
def digits_archive(digits_export, tmp_path_factory) -> tuple[Path, Path]:
    """The trained digits model with the example's handler, and one held-out digit as a PNG."""
    from model_archiver import build_archive

    model_dir = tmp_path_factory.mktemp("bench-digits") / "model"
    shutil.copytree(digits_export, model_dir)
    shutil.copy(REPO / "examples" / "digits" / "model" / "digits_service.py", model_dir)
    archive = build_archive(model_dir, model_name="digits", handler="digits_service:handle",
                            export_path=model_dir.parent / "out").path
    split = digits.load_split()
    image = model_dir.parent / "digit.png"
    image.write_bytes(digits.render_png(split.x_test[0]))
    return archive, image


@pytest.mark.mms
@pytest.mark.slow
@pytest.mark.skipif(server_missing_reason() is not None, reason=server_missing_reason() or "")
def test_each_configuration_runs_with_the_settings_it_claims(digits_archive, tmp_path):
    archive, image = digits_archive
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "model_archiver", "bench", str(archive), "--input", str(image),
         "--configs", "1x2,2x1", "--batch-sizes", "2", "--duration", "1", "--hourly-price", str(HOURLY),
         "--target-rps", str(TARGET_RPS), "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["model_name"] == "digits" and report["cpu_count"] >= 1
    assert report["ceiling_rps"] > 0 and report["ceiling_concurrency"] >= 2 * 2 * 2
    rows = report["rows"]
    assert [(r["configuration"], r["workers"], r["omp_threads"], r["batch_size"]) for r in rows] == [
        ("1x2 b2", 1, 2, 2), ("2x1 b2", 2, 1, 2)]
    for row in rows:
        assert row["workers_ready"] == row["workers"]
        assert row["omp_seen"] == [str(row["omp_threads"])] * row["workers"]
        assert row["concurrency"] >= 2 * row["workers"] * row["batch_size"]
        assert row["errors"] == 0
        assert row["throughput_rps"] > 0 and 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["worker_rss_mb"] > 0 and row["cpu_percent"] > 0
        assert row["hourly_cost"] == HOURLY
        assert row["usd_per_100k"] == pytest.approx(HOURLY / (row["throughput_rps"] * 3600) * 1e5)
        assert row["machines"] == math.ceil(TARGET_RPS / row["throughput_rps"])
        assert row["monthly_cost"] == pytest.approx(row["machines"] * HOURLY * 730)
        assert row["near_ceiling"] == (row["throughput_rps"] >= 0.8 * report["ceiling_rps"])
    fastest = min(rows, key=lambda r: r["p50_ms"])
    busiest = max(rows, key=lambda r: r["throughput_rps"])
    assert "lowest latency" in fastest["optimised_for"] and "highest throughput" in busiest["optimised_for"]
    assert sum("lowest latency" in r["optimised_for"] for r in rows) == 1

    assert json.loads((out / "bench.json").read_text())["rows"] == rows
    with open(out / "bench.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["configuration"] for r in table] == ["1x2 b2", "2x1 b2"]
    markdown = (out / "bench.md").read_text()
    assert "| configuration | optimised for | workers | OMP threads | batch size |" in markdown
    assert "Load generator ceiling" in markdown and "Capacity for 5000 requests/s" in markdown
    if (out / "bench.png").exists():  # matplotlib is an optional extra
        assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
