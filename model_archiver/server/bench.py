"""``bench``: which configuration serves this model best on this machine, and at what cost.

For every configuration (workers x ``OMP_NUM_THREADS`` per worker x batch
size) a fresh server is started with that environment, the archive is
registered with that many workers, and the settings are checked where they
take effect: the workers MMS reports READY, and ``OMP_NUM_THREADS`` read from
each worker process's own environment. Then a warm-up, a latency phase (one
client, back to back) and a throughput phase (at least 2 x workers x batch
size keep-alive clients). The same load generator's ceiling is measured first
against a trivial echo archive, so a result limited by the client is flagged,
not mistaken for the server's.

Costs follow the MMS + Elastic Inference study:
``$ per 100k requests = hourly price / (throughput x 3600) x 100000``.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from model_archiver.errors import ServerError, UsageError
from model_archiver.server.loadgen import Request, measure_latency, measure_throughput
from model_archiver.server.process import MMSServer, importable_by_workers, running_server
from model_archiver.server.settings import model_name_of, read_manifest

log = logging.getLogger(__name__)

HOURS_PER_MONTH = 730
CEILING_MARGIN = 0.8  # within 20% of the client's ceiling: the client may be the limit
MIN_LATENCY_REQUESTS = 10
ECHO_HANDLER = '''
def handle(data, context):
    """Answers every request at once: what the server and client cost without a model."""
    if data is None:
        return None
    return ["ok" for _ in data]
'''

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Config:
    """One point of the grid."""

    workers: int
    omp_threads: int
    batch_size: int = 1

    @property
    def label(self) -> str:
        return f"{self.workers}x{self.omp_threads}" + (f" b{self.batch_size}" if self.batch_size > 1 else "")


@dataclass
class BenchRow:
    """One configuration's measurements: the columns of the study's table and what was verified."""

    configuration: str
    workers: int
    omp_threads: int
    batch_size: int
    optimised_for: str = ""
    hourly_cost: float | None = None
    usd_per_100k: float | None = None
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p99_ms: float = math.nan
    throughput_rps: float = 0.0
    concurrency: int = 0
    worker_rss_mb: float = 0.0
    cpu_percent: float = 0.0
    errors: int = 0
    near_ceiling: bool = False
    workers_ready: int = 0
    omp_seen: list[str] = field(default_factory=list)
    machines: int | None = None
    monthly_cost: float | None = None


@dataclass
class BenchResult:
    """The table, the load generator's ceiling and how the run was set up."""

    archive: str
    model_name: str
    cpu_count: int
    duration_s: float
    ceiling_rps: float
    ceiling_concurrency: int
    rows: list[BenchRow]
    hourly_price: float | None = None
    target_rps: float | None = None
    max_p90_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def auto_configs(cores: int) -> list[tuple[int, int]]:
    """1x1, every workers x threads that fills the cores, and one worker per core."""
    grid = [(1, 1)]
    for workers in range(1, cores + 1):
        if cores % workers == 0:
            grid.append((workers, cores // workers))
    return list(dict.fromkeys(grid))


def parse_configs(spec: str, cores: int | None = None) -> list[tuple[int, int]]:
    """``"1x1,1x2,2x1"`` or ``"auto"`` -> [(workers, omp_threads), ...]."""
    if spec.strip() == "auto":
        return auto_configs(cores or os.cpu_count() or 1)
    configs = []
    for part in spec.split(","):
        try:
            workers, threads = (int(value) for value in part.strip().lower().split("x"))
        except ValueError:
            raise UsageError(f"--configs: {part.strip()!r} is not WORKERSxTHREADS (e.g. 2x1)") from None
        if workers < 1 or threads < 1:
            raise UsageError(f"--configs: {part.strip()!r} needs at least 1 worker and 1 thread")
        configs.append((workers, threads))
    return list(dict.fromkeys(configs))


def parse_batch_sizes(spec: str) -> list[int]:
    try:
        sizes = [int(value) for value in spec.split(",")]
    except ValueError:
        raise UsageError(f"--batch-sizes: {spec!r} is not a comma-separated list of integers") from None
    if any(size < 1 for size in sizes):
        raise UsageError("--batch-sizes: every batch size must be >= 1")
    return list(dict.fromkeys(sizes))


def run_bench(archive: Path, inputs: Sequence[tuple[bytes, str]], *, configs: Sequence[tuple[int, int]],
              batch_sizes: Sequence[int] = (1,), duration: float = 10.0, concurrency: int = 0,
              max_batch_delay_ms: int = 10, hourly_price: float | None = None, target_rps: float | None = None,
              max_p90_ms: float | None = None, response_timeout: int = 300, work_dir: Path | None = None,
              progress: Progress = log.info) -> BenchResult:
    """Measure every configuration x batch size; return the rows of the study's table.

    ``inputs`` are ``(body, content_type)`` pairs sent in turn. Raises
    :class:`ServerError` when a server cannot start, an archive cannot be
    registered, or a configuration did not take effect as asked.
    """
    if not inputs:
        raise UsageError("give at least one --input")
    if duration <= 0:
        raise UsageError("--duration must be positive")
    grid = [Config(w, t, b) for b in batch_sizes for (w, t) in configs]
    manifest = read_manifest(archive)
    model_name = model_name_of(manifest)
    concurrencies = {c: max(concurrency, 2 * c.workers * c.batch_size) for c in grid}
    with tempfile.TemporaryDirectory(prefix="model-archiver-bench-", dir=work_dir) as base:
        base_path = Path(base)
        ceiling_concurrency = max(concurrencies.values())
        progress(f"load generator ceiling: echo archive, {ceiling_concurrency} clients")
        ceiling = measure_ceiling(base_path, inputs, ceiling_concurrency, duration)
        rows = []
        for index, config in enumerate(grid, 1):
            progress(f"[{index}/{len(grid)}] {config.label}: starting MMS")
            rows.append(_measure(base_path / f"config-{index}", archive, inputs, config, concurrencies[config],
                                 duration, max_batch_delay_ms, response_timeout, progress))
    result = BenchResult(str(archive), model_name, os.cpu_count() or 1, duration, ceiling, ceiling_concurrency,
                         rows, hourly_price, target_rps, max_p90_ms)
    _annotate(result)
    return result


def measure_ceiling(base: Path, inputs: Sequence[tuple[bytes, str]], concurrency: int, duration: float) -> float:
    """Requests/s the load generator reaches against an archive that does no work."""
    from model_archiver.packaging.builder import build_archive

    source = base / "echo-src"
    source.mkdir(parents=True)
    (source / "echo_handler.py").write_text(textwrap.dedent(ECHO_HANDLER))
    archive = build_archive(source, model_name="echo", handler="echo_handler:handle",
                            export_path=base / "echo-out").path
    with running_server(base / "echo-server") as server:
        name = server.serve(archive, initial_workers=os.cpu_count() or 1)
        requests = [Request(f"/predictions/{name}", body, content_type) for body, content_type in inputs]
        measure_throughput("127.0.0.1", server.inference_port, requests, duration=min(duration, 2.0),
                           concurrency=concurrency)
        return measure_throughput("127.0.0.1", server.inference_port, requests, duration=duration,
                                  concurrency=concurrency).rps


def _measure(base: Path, archive: Path, inputs: Sequence[tuple[bytes, str]], config: Config, concurrency: int,
             duration: float, max_batch_delay_ms: int, response_timeout: int, progress: Progress) -> BenchRow:
    env = {**importable_by_workers("service_sdk"), "OMP_NUM_THREADS": str(config.omp_threads)}
    with running_server(base, env=env, response_timeout=response_timeout) as server:
        name = server.serve(archive, initial_workers=config.workers, batch_size=config.batch_size,
                            max_batch_delay=max_batch_delay_ms, response_timeout=response_timeout)
        row = BenchRow(config.label, config.workers, config.omp_threads, config.batch_size, concurrency=concurrency)
        _verify(server, name, config, row)
        requests = [Request(f"/predictions/{name}", body, content_type) for body, content_type in inputs]
        progress(f"{config.label}: warm-up")
        warm = measure_throughput("127.0.0.1", server.inference_port, requests, duration=min(duration, 3.0),
                                  concurrency=concurrency)
        progress(f"{config.label}: latency, one client")
        latency = measure_latency("127.0.0.1", server.inference_port, requests, duration=duration,
                                  min_requests=MIN_LATENCY_REQUESTS)
        progress(f"{config.label}: throughput, {concurrency} clients")
        before = _cpu_seconds(server)
        throughput = measure_throughput("127.0.0.1", server.inference_port, requests, duration=duration,
                                        concurrency=concurrency)
        used = _cpu_seconds(server) - before
        row.p50_ms, row.p90_ms, row.p99_ms = latency.p50_ms, latency.p90_ms, latency.p99_ms
        row.throughput_rps = throughput.rps
        row.errors = warm.errors + latency.errors + throughput.errors
        row.cpu_percent = 100 * used / (throughput.seconds * (os.cpu_count() or 1))
        row.worker_rss_mb = sum(_rss(p) for p in server.worker_processes()) / 2**20
        if row.errors:
            log.warning("%s: %d request(s) failed\n%s", config.label, row.errors, server.logs_excerpt(10))
        return row


def _verify(server: MMSServer, name: str, config: Config, row: BenchRow) -> None:
    """The configuration took effect: workers READY, OMP_NUM_THREADS in each worker's environment."""
    described = server.describe(name)
    statuses = [worker.get("status") for worker in described.get("workers", [])]
    row.workers_ready = statuses.count("READY")
    if row.workers_ready != config.workers or described.get("batchSize") != config.batch_size:
        raise ServerError(f"{config.label}: asked for {config.workers} worker(s), batch {config.batch_size}; "
                          f"the server has {statuses}, batch {described.get('batchSize')}")
    deadline = time.monotonic() + 10
    while True:
        workers = server.worker_processes()
        row.omp_seen = sorted(_env(p).get("OMP_NUM_THREADS", "unset") for p in workers)
        if len(workers) == config.workers or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if row.omp_seen != [str(config.omp_threads)] * config.workers:
        raise ServerError(f"{config.label}: expected {config.workers} worker process(es) with "
                          f"OMP_NUM_THREADS={config.omp_threads}, found {row.omp_seen}")


def _env(process: Any) -> dict[str, str]:
    """A process's environment as the kernel has it (``/proc/PID/environ``)."""
    try:
        return process.environ()
    except Exception:  # noqa: BLE001 - the process exited meanwhile
        return {}


def _rss(process: Any) -> int:
    try:
        return process.memory_info().rss
    except Exception:  # noqa: BLE001 - the process exited meanwhile
        return 0


def _cpu_seconds(server: MMSServer) -> float:
    total = 0.0
    for process in server.process_tree():
        try:
            times = process.cpu_times()
        except Exception:  # noqa: BLE001 - the process exited meanwhile
            continue
        total += times.user + times.system
    return total


def _annotate(result: BenchResult) -> None:
    """Costs, the rows the study would mark, the client-bound flag and capacity planning."""
    rows = result.rows
    for row in rows:
        row.near_ceiling = result.ceiling_rps > 0 and row.throughput_rps >= CEILING_MARGIN * result.ceiling_rps
        if result.hourly_price is not None:
            row.hourly_cost = result.hourly_price
            if row.throughput_rps > 0:
                row.usd_per_100k = result.hourly_price / (row.throughput_rps * 3600) * 100_000
    measured = [row for row in rows if not math.isnan(row.p50_ms)]
    marks: dict[int, list[str]] = {}
    if measured:
        marks.setdefault(id(min(measured, key=lambda r: r.p50_ms)), []).append("lowest latency")
    if rows:
        marks.setdefault(id(max(rows, key=lambda r: r.throughput_rps)), []).append("highest throughput")
    for row in rows:
        row.optimised_for = ", ".join(marks.get(id(row), []))
    if result.target_rps:
        for row in rows:
            fits = result.max_p90_ms is None or row.p90_ms <= result.max_p90_ms
            if fits and row.throughput_rps > 0:
                row.machines = math.ceil(result.target_rps / row.throughput_rps)
                if result.hourly_price is not None:
                    row.monthly_cost = row.machines * result.hourly_price * HOURS_PER_MONTH
