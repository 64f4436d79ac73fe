"""Service classes; each is imported on first use so unused frameworks are never loaded."""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelService": "service_sdk.services.base",
    "MXNetModelService": "service_sdk.services.mxnet_service",
    "GluonService": "service_sdk.services.gluon_service",
    "MXNetVisionService": "service_sdk.services.vision",
    "GluonVisionService": "service_sdk.services.vision",
    "VisionMixin": "service_sdk.services.vision",
    "OnnxRuntimeService": "service_sdk.services.onnxruntime_service",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'service_sdk.services' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
