"""Build, validate, inspect and verify Multi Model Server model archives.

The public API is importable from here; submodules load on first use so that
``import model_archiver`` (and the CLI) stay fast and never pull in MXNet or
ONNX.
"""
from __future__ import annotations

import importlib


__version__ = "2.0.0"

_EXPORTS = {
    "build_archive": "model_archiver.packaging.builder",
    "ArchiveResult": "model_archiver.packaging.result",
    "open_archive": "model_archiver.reading.reader",
    "inspect_archive": "model_archiver.reading.inspect",
    "verify_archive": "model_archiver.reading.verify",
    "validate_directory": "model_archiver.validation",
    "validate_source": "model_archiver.validation",
    "import_onnx": "model_archiver.onnx_import",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:  # no typing import: keeps the pre-signal-handler start-up short
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'model_archiver' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
