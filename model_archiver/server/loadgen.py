"""The load generator: one client for latency, many keep-alive clients for throughput.

Threads with one persistent connection each are enough here because the work
per request is a socket write and read (the GIL is released while waiting);
whether that is true on a given machine is measured, not assumed: the bench
runs the same generator against a trivial echo archive and reports that
ceiling next to the results.
"""
from __future__ import annotations

import http.client as httplib
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Sequence

from model_archiver.server.client import KeepAliveClient

MAX_LATENCY_REQUESTS = 2000


@dataclass(frozen=True)
class Request:
    """A prediction request to replay: the URL path, the body and its content type."""

    path: str
    body: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class LatencyResult:
    """Sequential requests from one client: percentiles of the round trip in milliseconds."""

    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float


@dataclass(frozen=True)
class ThroughputResult:
    """Concurrent keep-alive clients for a fixed time: successful requests per second."""

    requests: int
    errors: int
    seconds: float
    concurrency: int
    rps: float
    p50_ms: float
    p90_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _send(client: KeepAliveClient, request: Request) -> tuple[bool, float]:
    started = time.perf_counter()
    try:
        ok = 200 <= client.post(request.path, request.body, request.content_type).status < 300
    except (OSError, httplib.HTTPException):
        client.close()
        ok = False
    return ok, (time.perf_counter() - started) * 1000


def measure_latency(host: str, port: int, requests: Sequence[Request], *, duration: float,
                    min_requests: int = 10) -> LatencyResult:
    """One client sending requests back to back for ``duration`` seconds (and at least ``min_requests``)."""
    times: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    with KeepAliveClient(host, port) as client:
        for request in itertools.cycle(requests):
            ok, elapsed = _send(client, request)
            if ok:
                times.append(elapsed)
            else:
                errors += 1
            done = len(times) + errors
            if done >= MAX_LATENCY_REQUESTS or (done >= min_requests and time.monotonic() >= deadline):
                break
    return LatencyResult(len(times), errors, percentile(times, 50), percentile(times, 90), percentile(times, 99))


def measure_throughput(host: str, port: int, requests: Sequence[Request], *, duration: float,
                       concurrency: int) -> ThroughputResult:
    """``concurrency`` clients, each on its own keep-alive connection, for ``duration`` seconds."""
    times: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    start = threading.Barrier(concurrency + 1)
    deadline: list[float] = []
    failures: list[BaseException] = []

    def client_loop(index: int) -> None:
        start.wait()
        try:
            _client_loop(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    def _client_loop(index: int) -> None:
        with KeepAliveClient(host, port) as client:
            for request in itertools.islice(itertools.cycle(requests), index, None):
                ok, elapsed = _send(client, request)
                if ok:
                    times[index].append(elapsed)
                else:
                    errors[index] += 1
                if time.monotonic() >= deadline[0]:
                    return

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline.append(began + duration)
    start.wait()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    if failures:
        raise failures[0]
    every = [t for per_client in times for t in per_client]
    return ThroughputResult(len(every), sum(errors), seconds, concurrency, len(every) / seconds,
                            percentile(every, 50), percentile(every, 90))
