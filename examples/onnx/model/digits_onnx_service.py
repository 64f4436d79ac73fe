"""MMS handler for the digits CNN converted from ONNX at build time (``model-archiver -c``).

The archive holds the converted ``digits-symbol.json`` / ``digits-0000.params``
and the generated ``signature.json``; the SDK's vision service does the rest
(PNG decoding to the signature's 1x8x8 input, batching, top-k JSON).
"""
from service_sdk.services.vision import MXNetVisionService


class DigitsOnnxService(MXNetVisionService):
    """Top-3 digits with probabilities; the checkpoint prefix is the model name, ``digits``."""

    top_k = 3


handle = DigitsOnnxService.entry_point()
