"""Which ``pip install 'model-archiver[EXTRA]'`` provides an optional import, for error messages.

Building, inspecting and verifying need none of them; running a handler,
checking shapes and converting ONNX do. A user who lacks one should read the
install line, not ``No module named 'mxnet'``.
"""
from __future__ import annotations

import importlib.util
import re
from typing import Optional

from model_archiver.errors import UsageError

EXTRAS = {"mxnet": "mxnet", "onnx": "onnx", "onnxruntime": "onnx", "mms": "server"}
_MISSING = re.compile(r"No module named '(?P<module>[A-Za-z0-9_]+)")


def install_line(module: str) -> str:
    return f"pip install 'model-archiver[{EXTRAS[module]}]'"


def require(module: str, needed_for: str) -> None:
    """Raise a UsageError with the install line when ``module`` is not importable."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{needed_for} needs {module}, which is not installed: {install_line(module)}")


def hint_for(message: str) -> Optional[str]:
    """The install line when ``message`` is a missing-module error for a module an extra provides."""
    match = _MISSING.search(message)
    if match and match["module"] in EXTRAS:
        return f"{match['module']} is not installed in this environment: {install_line(match['module'])}"
    return None
