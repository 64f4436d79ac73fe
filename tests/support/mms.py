"""The tests' handle on a real Multi Model Server: the library's, re-exported.

The harness that started here now lives in :mod:`model_archiver.server` (the
``serve``, ``smoke-test`` and ``bench`` commands use it); tests keep importing
these names from here.
"""
from __future__ import annotations

from model_archiver.errors import ServerError
from model_archiver.server.client import REQUEST_TIMEOUT, KeepAliveClient, Response, http
from model_archiver.server.process import (
    FRONTEND_OUT,
    MMS_LOG,
    MODEL_LOG,
    PORT_RANGE,
    STARTUP_TIMEOUT,
    MMSServer,
    importable_by_workers,
    java_missing_reason,
    pick_ports,
    running_server,
    server_missing_reason,
)

__all__ = [
    "FRONTEND_OUT", "MMS_LOG", "MODEL_LOG", "PORT_RANGE", "REQUEST_TIMEOUT", "STARTUP_TIMEOUT",
    "KeepAliveClient", "MMSServer", "Response", "ServerError", "http", "importable_by_workers",
    "java_missing_reason", "pick_ports", "running_server", "server_missing_reason",
]
