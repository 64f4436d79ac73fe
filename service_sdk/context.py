"""A worker context with the MMS 1.x API, for the local runner and tests.

In the server, handlers receive MMS's own ``mms.context.Context``; this class
offers the same attributes and methods so a handler written against that API
behaves identically here. ``Context.for_batch`` starts a fresh per-request
state for every batch, as the MMS worker does, so statuses never leak from one
batch into the next.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class RequestProcessor:
    """Request headers in, per-request status and response headers out."""

    request_headers: dict = field(default_factory=dict)
    status_code: int = 200
    reason_phrase: Optional[str] = None
    response_headers: dict = field(default_factory=dict)

    def get_request_property(self, key: str) -> Any:
        return self.request_headers.get(key)

    def get_request_properties(self) -> dict:
        return self.request_headers

    def report_status(self, code: int, reason_phrase: Optional[str] = None) -> None:
        self.status_code = code
        self.reason_phrase = reason_phrase

    def get_response_status_code(self) -> int:
        return self.status_code

    def get_response_status_phrase(self) -> Optional[str]:
        return self.reason_phrase

    def add_response_property(self, key: str, value: Any) -> None:
        self.response_headers[key] = value

    def get_response_headers(self) -> dict:
        return self.response_headers

    def get_response_header(self, key: str) -> Any:
        return self.response_headers.get(key)


@dataclass(frozen=True)
class MetricRecord:
    name: str
    value: float
    unit: str
    request_index: Optional[int]


class Metrics:
    """Collects what a handler reports through ``context.metrics`` (MMS's MetricsStore API)."""

    TIME_UNITS = ("ms", "s")
    SIZE_UNITS = ("MB", "kB", "GB", "B")

    def __init__(self) -> None:
        self.records: list[MetricRecord] = []

    def _add(self, name: str, value: float, unit: str, idx: Optional[int]) -> None:
        self.records.append(MetricRecord(name, value, unit, idx))

    def add_time(self, name: str, value: float, idx: Optional[int] = None, unit: str = "ms", dimensions: Any = None) -> None:
        if unit not in self.TIME_UNITS:
            raise ValueError(f"the unit for a timed metric should be one of {list(self.TIME_UNITS)}")
        self._add(name, value, unit, idx)

    def add_size(self, name: str, value: float, idx: Optional[int] = None, unit: str = "MB", dimensions: Any = None) -> None:
        if unit not in self.SIZE_UNITS:
            raise ValueError(f"the unit for a size metric should be one of {list(self.SIZE_UNITS)}")
        self._add(name, value, unit, idx)

    def add_counter(self, name: str, value: int, idx: Optional[int] = None, dimensions: Any = None) -> None:
        self._add(name, value, "count", idx)

    def add_percent(self, name: str, value: float, idx: Optional[int] = None, dimensions: Any = None) -> None:
        self._add(name, value, "percent", idx)

    def add_metric(self, name: str, value: float, idx: Optional[int] = None, unit: Optional[str] = None, dimensions: Any = None) -> None:
        self._add(name, value, unit or "", idx)

    def add_error(self, name: str, value: Any, dimensions: Any = None) -> None:
        self._add(name, value, "", None)


class Context:
    """Model-level properties fixed at load, plus per-batch request state."""

    def __init__(
        self,
        model_name: str,
        model_dir: str,
        manifest: Optional[dict],
        batch_size: int = 1,
        gpu: Optional[int] = None,
        server_version: str = "1.1.11",
        *,
        dedicated_process: bool = False,
    ):
        self.model_name = model_name
        # True in the local runner's child: a process that serves only this
        # model, where a service may change the environment as in an MMS worker.
        self.dedicated_process = dedicated_process
        self.manifest = manifest
        self._system_properties = {
            "model_dir": model_dir,
            "gpu_id": gpu,
            "batch_size": batch_size,
            "server_name": "MMS",
            "server_version": server_version,
        }
        self.request_ids: Optional[dict] = None
        self.request_processor: Optional[list[RequestProcessor]] = None
        self.metrics: Optional[Metrics] = Metrics()

    @property
    def system_properties(self) -> dict:
        return self._system_properties

    def for_batch(self, headers: list[dict]) -> "Context":
        """Reset per-request state for a new batch (one header dict per request)."""
        self.request_ids = {idx: f"request-{idx}" for idx in range(len(headers))}
        self.request_processor = [RequestProcessor(dict(h)) for h in headers]
        self.metrics = Metrics()
        return self

    def get_request_id(self, idx: int = 0) -> Optional[str]:
        return (self.request_ids or {}).get(idx)

    def get_request_header(self, idx: int, key: str) -> Any:
        return self.request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> dict:
        return self.request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx: int) -> Optional[str]:
        return self.get_response_headers(idx).get("content-type")

    def get_response_status(self, idx: int) -> tuple[int, Optional[str]]:
        processor = self.request_processor[idx]
        return processor.get_response_status_code(), processor.get_response_status_phrase()

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        if self.request_processor is not None and self.request_processor[idx] is not None:
            self.request_processor[idx].report_status(code, reason_phrase=phrase)

    def set_all_response_status(self, code: int = 200, phrase: str = "") -> None:
        for processor in self.request_processor or []:
            processor.report_status(code, reason_phrase=phrase)

    def get_response_headers(self, idx: int) -> dict:
        return self.request_processor[idx].get_response_headers()

    def set_response_header(self, idx: int, key: str, value: Any) -> None:
        self.request_processor[idx].add_response_property(key, value)
