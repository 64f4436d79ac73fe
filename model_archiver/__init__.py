"""Build, validate, inspect and verify Multi Model Server model archives.

The public API is importable from here without pulling in MXNet or ONNX;
those load only inside the functions that need them.
"""
from __future__ import annotations

__version__ = "2.0.0"
