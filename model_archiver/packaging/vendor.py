"""Files of the installed ``service_sdk`` package, for ``--vendor-sdk``.

A vendored copy at the archive root lets a handler built on the SDK run in a
stock MMS worker that does not have this project installed.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from model_archiver.errors import UsageError

SDK_PACKAGE = "service_sdk"
# The local runner and its worker drive archives from outside; they never run
# inside a server, and runner.py needs model_archiver.
_HOST_ONLY = {"runner.py", "worker.py"}


def sdk_files() -> dict[str, Path]:
    """``archive name -> source path`` of every module of the SDK package."""
    spec = importlib.util.find_spec(SDK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("--vendor-sdk: the service_sdk package is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return {
        f"{SDK_PACKAGE}/{path.relative_to(root).as_posix()}": path
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts and path.relative_to(root).as_posix() not in _HOST_ONLY
    }
