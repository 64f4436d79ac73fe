"""Throughput and latency of an archive in the real Multi Model Server, per configuration.

    python benchmarks/bench_mms_throughput.py [--archive A.mar --input FILE] [--requests 400] [--clients 8]

Without arguments it builds the digits example and posts its held-out PNGs.
One isolated MMS (tests/support/mms.py) serves the archive under several
configurations (batch size x workers); each is warmed up, then ``--requests``
requests are sent from ``--clients`` concurrent clients. Printed per
configuration: requests/s, p50/p95 latency, and the throughput ratio against
the first configuration (batch 1, one worker) measured in the same run. All
answers must be HTTP 200, or the run fails.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "digits"))

from tests.support.mms import MMSServer, importable_by_workers, running_server  # noqa: E402

# (batch_size, workers); the first is the baseline.
CONFIGURATIONS = ((1, 1), (4, 1), (8, 1), (1, 2), (4, 2))
MAX_BATCH_DELAY_MS = 20
WARM_UP = 20


def digits_payloads(work: Path) -> tuple[Path, list[bytes]]:
    from demo import build
    from make_inputs import write_inputs

    archive = build(work / "archive")
    labels = write_inputs(work / "inputs")
    return archive, [(work / "inputs" / name).read_bytes() for name in labels]


def measure(server: MMSServer, name: str, bodies: list[bytes], requests: int, clients: int) -> tuple[float, list[float]]:
    """Requests per second and per-request latencies (s) for ``requests`` posts."""
    def one(index: int) -> float:
        started = time.perf_counter()
        response = server.predict(name, bodies[index % len(bodies)], "image/png")
        if response.status != 200:
            raise RuntimeError(server.explain(response))
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(WARM_UP)))
        started = time.perf_counter()
        latencies = list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="archive to serve (default: the digits example)")
    parser.add_argument("--input", type=Path, help="request body file for --archive")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    if bool(args.archive) != bool(args.input):
        parser.error("--archive and --input go together")

    with tempfile.TemporaryDirectory(prefix="bench-mms-") as scratch:
        work = Path(scratch)
        archive, bodies = ((args.archive, [args.input.read_bytes()]) if args.archive
                           else digits_payloads(work))
        print(f"{archive.name}: {args.requests} requests from {args.clients} clients, "
              f"max_batch_delay {MAX_BATCH_DELAY_MS} ms")
        print(f"{'batch':>5} {'workers':>7} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'vs base':>7}")
        baseline = None
        with running_server(work / "mms", env=importable_by_workers("service_sdk")) as server:
            url = server.add_archive(archive)
            for index, (batch, workers) in enumerate(CONFIGURATIONS):
                name = f"bench-{index}"
                response = server.register(url, model_name=name, batch_size=batch,
                                           max_batch_delay=MAX_BATCH_DELAY_MS, initial_workers=workers)
                if response.status != 200:
                    print(server.explain(response), file=sys.stderr)
                    return 1
                rate, latencies = measure(server, name, bodies, args.requests, args.clients)
                server.unregister(name)
                baseline = baseline or rate
                cuts = statistics.quantiles(latencies, n=20)
                print(f"{batch:>5} {workers:>7} {rate:>8.1f} {statistics.median(latencies) * 1000:>7.1f} "
                      f"{cuts[18] * 1000:>7.1f} {rate / baseline:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
