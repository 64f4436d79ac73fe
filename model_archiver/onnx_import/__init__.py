"""ONNX import: sanitize an ONNX graph, convert it to an MXNet checkpoint in a child
process, verify it numerically against an ONNX runtime, and generate its signature.

Importing this package loads neither onnx, MXNet nor numpy (``build`` imports it
for its options); the functions do, when called.
"""
from typing import Any

from model_archiver.onnx_import.verify import DEFAULT_ATOL, DEFAULT_RTOL, OutputDiff, VerificationReport

_FROM_IMPORTER = {"ImportResult", "convert", "convert_for_build", "import_onnx"}

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "ImportResult",
    "OutputDiff",
    "VerificationReport",
    "convert",
    "convert_for_build",
    "import_onnx",
]


def __getattr__(name: str) -> Any:
    if name not in _FROM_IMPORTER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from model_archiver.onnx_import import importer

    return getattr(importer, name)
