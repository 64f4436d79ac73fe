"""INT8 quantization of MXNet checkpoints with an accuracy gate (``quantize`` / ``build --quantize int8``).

MXNet is imported only in the worker subprocess (:mod:`.worker`); this
package imports with numpy alone.
"""
from typing import Any

from model_archiver.quantization.options import QuantizeOptions

# The working modules need numpy; they load on first use, so that `build`
# (which only needs the options) starts without it.
_LAZY = {
    "Figures": "model_archiver.quantization.gate",
    "Quantization": "model_archiver.quantization.run",
    "quantize_files": "model_archiver.quantization.run",
    "quantize_model_dir": "model_archiver.quantization.output",
    "quantize_for_build": "model_archiver.quantization.output",
}

__all__ = ["QuantizeOptions", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
