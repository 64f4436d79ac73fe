"""ONNX import: sanitize an ONNX graph, convert it to an MXNet checkpoint in a child
process, verify it numerically against an ONNX runtime, and generate its signature.

Importing this package loads neither onnx nor MXNet; the functions do, when called.
"""
from model_archiver.onnx_import.importer import ImportResult, convert, convert_for_build, import_onnx
from model_archiver.onnx_import.verify import DEFAULT_ATOL, DEFAULT_RTOL, OutputDiff, VerificationReport

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
