"""MMS handler for the digits classifier: the SDK's vision service, configured.

Everything generic - decoding PNG/JPEG bytes with Pillow, resizing to the
signature's 8x8 greyscale input, batching, per-request 4xx answers for bad
images, top-k JSON - comes from ``MXNetVisionService``. The network was
trained on pixels in [0, 1], which is the service's default scaling
(value / 255), so only the number of answers is set here.
"""
from service_sdk.services.vision import MXNetVisionService


class DigitsService(MXNetVisionService):
    """Top-3 digits with probabilities; the checkpoint prefix is the model name, ``digits``."""

    top_k = 3


# `--handler digits_service:handle`: MMS calls handle(None, context) at load, so a
# model that fails to load fails its registration instead of serving errors.
handle = DigitsService.entry_point()
