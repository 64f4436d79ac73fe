"""Base service classes, context and device selection for MMS model handlers.

Importing this package needs only the standard library (numpy, Pillow and
MXNet are imported by the modules that use them), so a vendored copy loads in
any MMS worker. A handler module is typically::

    from service_sdk.services import MXNetVisionService

    handle = MXNetVisionService.entry_point()
"""
from service_sdk.context import Context
from service_sdk.errors import RequestError, ServiceError
from service_sdk.services.base import ModelService

__all__ = ["Context", "ModelService", "RequestError", "ServiceError"]
