"""Base service classes, context and device selection for MMS model handlers.

Importing this package needs only the standard library (numpy, Pillow and
MXNet are imported by the modules that use them), so a vendored copy loads in
any MMS worker. A handler module is typically::

    from service_sdk.services import MXNetVisionService

    handle = MXNetVisionService.entry_point()
"""
from typing import Any

# Loaded on first use: model_archiver imports service_sdk.utils.bounded_json
# at start-up and should not pay for the service classes too.
_EXPORTS = {
    "Context": "service_sdk.context",
    "ModelService": "service_sdk.services.base",
    "RequestError": "service_sdk.errors",
    "ServiceError": "service_sdk.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
