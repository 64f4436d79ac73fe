"""The bench's table as Markdown, CSV and JSON, and its plot as a PNG (matplotlib, optional).

The Markdown follows the MMS + Elastic Inference study's Table 1 (configuration,
optimised for, cost, latency, throughput), with the columns that say whether a
row can be trusted next to it: the load generator's ceiling, the near-ceiling
flag and the settings verified in the workers.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

from model_archiver.server.bench import BenchResult, BenchRow

log = logging.getLogger(__name__)

PLOT_HINT = "pip install 'model-archiver[plot]'"
_CSV_FIELDS = ["configuration", "optimised_for", "workers", "omp_threads", "batch_size", "hourly_cost",
               "usd_per_100k", "p50_ms", "p90_ms", "p99_ms", "throughput_rps", "concurrency", "worker_rss_mb",
               "cpu_percent", "errors", "near_ceiling", "workers_ready", "omp_seen", "machines", "monthly_cost"]


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _money(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:,.2f}" if value >= 1 else f"${value:.3f}" if value >= 0.01 else f"${value:.5f}"


def _flags(row: BenchRow) -> str:
    notes = []
    if row.near_ceiling:
        notes.append("⚠ within 20% of the client's ceiling")
    if row.errors:
        notes.append(f"{row.errors} failed request(s)")
    return "; ".join(notes)


def to_markdown(result: BenchResult) -> str:
    """The study's table, the ceiling line and (with a target) the capacity plan."""
    lines = [
        f"Model `{result.model_name}` ({result.archive}) on {result.cpu_count} CPU core(s), "
        f"{result.duration_s:g} s per phase.",
        f"Load generator ceiling (echo archive, {result.ceiling_concurrency} keep-alive clients): "
        f"**{result.ceiling_rps:,.0f} requests/s**.",
        "",
        "| configuration | optimised for | workers | OMP threads | batch size | hourly cost | $ per 100k requests "
        "| p50 (ms) | p90 (ms) | p99 (ms) | throughput (req/s) | clients | worker RSS (MB) | CPU (%) | note |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in result.rows:
        lines.append(
            f"| {row.configuration} | {row.optimised_for} | {row.workers} | {row.omp_threads} | {row.batch_size} "
            f"| {_money(row.hourly_cost)} | {_money(row.usd_per_100k)} | {_num(row.p50_ms)} | {_num(row.p90_ms)} "
            f"| {_num(row.p99_ms)} | {_num(row.throughput_rps, 2)} | {row.concurrency} | {_num(row.worker_rss_mb, 0)} "
            f"| {_num(row.cpu_percent, 0)} | {_flags(row)} |")
    if result.target_rps:
        lines += ["", _capacity_heading(result), "",
                  "| configuration | p90 (ms) | machines | monthly cost |", "|---|--:|--:|--:|"]
        for row in result.rows:
            machines = "– (p90 too high)" if row.machines is None else str(row.machines)
            lines.append(f"| {row.configuration} | {_num(row.p90_ms)} | {machines} | {_money(row.monthly_cost)} |")
    return "\n".join(lines) + "\n"


def _capacity_heading(result: BenchResult) -> str:
    bound = f" with p90 ≤ {result.max_p90_ms:g} ms" if result.max_p90_ms else ""
    return (f"Capacity for {result.target_rps:g} requests/s{bound} behind a load balancer "
            f"(730 h per month):")


def to_csv(result: BenchResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in result.to_dict()["rows"]:
        writer.writerow({**row, "omp_seen": " ".join(row["omp_seen"])})
    return buffer.getvalue()


def to_json(result: BenchResult) -> str:
    return json.dumps(_finite(result.to_dict()), indent=2, sort_keys=True) + "\n"


def _finite(value: Any) -> Any:
    """JSON has no NaN: unmeasured numbers become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def write_png(result: BenchResult, path: Path) -> bool:
    """Latency vs throughput (one labelled point per row) and cost per 100k; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, row in enumerate(result.rows):
        left.scatter(row.throughput_rps, row.p50_ms, color="tab:blue")
        left.errorbar(row.throughput_rps, row.p50_ms, yerr=[[0], [max(row.p90_ms - row.p50_ms, 0)]],
                      color="tab:blue", capsize=3)
        left.annotate(row.configuration, (row.throughput_rps, row.p50_ms), textcoords="offset points",
                      xytext=(6, 4 - 12 * (index % 2)))  # alternate sides: close points stay readable
    fastest = max([r.throughput_rps for r in result.rows] + [1e-9])
    if result.ceiling_rps <= 2 * fastest:  # on the same scale: draw it
        left.axvline(result.ceiling_rps, color="tab:red", linestyle="--", label="load generator ceiling")
        left.set_xlim(0, result.ceiling_rps * 1.1)
    else:  # far off scale: say it, and keep the points readable
        left.plot([], [], " ", label=f"load generator ceiling: {result.ceiling_rps:,.0f} req/s (off scale)")
        left.set_xlim(0, fastest * 1.3)
    slowest = max([r.p90_ms for r in result.rows] + [1e-9])
    left.set_ylim(0, slowest * 1.3)  # from zero, so the gaps between rows read true; headroom for labels
    left.set_xlabel("throughput (requests/s)")
    left.set_ylabel("latency p50 (ms), bar to p90")
    left.set_title(f"{result.model_name}: latency vs throughput")
    left.legend(loc="lower right", fontsize="small")  # points sit high: latency starts at zero
    labels = [row.configuration for row in result.rows]
    if result.hourly_price is not None:
        right.bar(labels, [row.usd_per_100k or 0 for row in result.rows], color="tab:green")
        right.set_ylabel("$ per 100k requests")
        right.set_title(f"cost at ${result.hourly_price:g}/hour")
    else:
        right.bar(labels, [row.throughput_rps for row in result.rows], color="tab:gray")
        right.set_ylabel("throughput (requests/s)")
        right.set_title("no --hourly-price: throughput")
    right.set_xlabel("configuration (workers x OMP threads)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_reports(result: BenchResult, out_dir: Path, stem: str = "bench") -> dict[str, Path]:
    """``{"md": ..., "csv": ..., "json": ..., "png": ...}`` written into ``out_dir`` (no PNG without matplotlib)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for suffix, text in (("md", to_markdown(result)), ("csv", to_csv(result)), ("json", to_json(result))):
        path = out_dir / f"{stem}.{suffix}"
        path.write_text(text, encoding="utf-8")
        written[suffix] = path
    png = out_dir / f"{stem}.png"
    if write_png(result, png):
        written["png"] = png
    else:
        log.warning("matplotlib is not installed: no plot (%s)", PLOT_HINT)
    return written
