"""HTTP for the server: one-shot requests (management API) and keep-alive clients (load).

Only the standard library: ``urllib`` for the occasional management call, and
one ``http.client`` connection per client for predictions, so a benchmark
measures the server rather than TCP handshakes, and the load generator stays
cheap enough not to be the bottleneck.
"""
from __future__ import annotations

import http.client as httplib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

REQUEST_TIMEOUT = 120.0


@dataclass(frozen=True)
class Response:
    """One HTTP answer: status, raw body and headers (lower-case names)."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http(method: str, url: str, body: bytes | None = None, *, content_type: str | None = None,
         timeout: float = REQUEST_TIMEOUT) -> Response:
    """Send one request on a fresh connection; HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(), _headers(answer.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), _headers(error.headers))


def _headers(message: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in message.items()} if message else {}


class KeepAliveClient:
    """One persistent HTTP/1.1 connection to a host; reconnects once if the server closed it.

    Not thread-safe on purpose: each load-generator thread owns one, as each
    real client would own its connection.
    """

    def __init__(self, host: str, port: int, timeout: float = REQUEST_TIMEOUT):
        self.host, self.port, self.timeout = host, port, timeout
        self._connection: httplib.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/octet-stream") -> Response:
        headers = {"Content-Type": content_type, "Connection": "keep-alive"}
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            except (httplib.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if answer.will_close:
                self.close()
            return Response(answer.status, data, {k.lower(): v for k, v in answer.getheaders()})
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> Response:
        return self.request("POST", path, body, content_type)

    def _connect(self) -> httplib.HTTPConnection:
        if self._connection is None:
            self._connection = httplib.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> "KeepAliveClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
