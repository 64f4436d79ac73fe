"""Image classification: decode photos, run the model, answer the top-k classes.

``MXNetVisionService`` (symbolic checkpoint) and ``GluonVisionService`` (Gluon
block) share :class:`VisionMixin`. The signature's single input must be NCHW
with C = 1 (greyscale) or 3 (RGB); every image is decoded with Pillow (JPEG
in draft mode at the scale the model needs), brought to the signature's
H x W, scaled and normalised, and stacked into one batch. The first output is
read as class scores; softmax is applied unless the graph already ends in a
softmax-like op (override with ``apply_softmax``). Each request gets
``[{"probability": p, "class": label}, ...]``, best first, with labels from
``synset.txt`` (one per line) or the class index when there is none.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional, Sequence

import numpy as np

from service_sdk.errors import ServiceError
from service_sdk.services.base import request_body
from service_sdk.services.gluon_service import GluonService
from service_sdk.services.mxnet_service import MXNetModelService
from service_sdk.signature import Signature
from service_sdk.utils import image as imaging
from service_sdk.utils.ndarray import softmax, top_k

log = logging.getLogger(__name__)

SYNSET_FILE = "synset.txt"


class VisionMixin:
    """Image pre/post-processing for a signature-driven MXNet service.

    Class attributes:

    ``top_k`` (5)
        classes returned per image (capped at the number of classes).
    ``apply_softmax`` (None)
        ``None`` detects it from the graph; ``True``/``False`` force it.
    ``scale`` (1/255), ``mean``, ``std``
        pixels become ``(value * scale - mean) / std`` per channel. MMS's
        original ImageNet examples fed raw 0..255 values: use ``scale = 1.0``.
    ``resize_mode`` ("stretch")
        ``"stretch"`` resizes to H x W; ``"center_crop"`` keeps the aspect
        ratio and crops the centre.
    ``max_image_pixels``
        larger images are refused with 413 before being decoded.
    """

    top_k: int = 5
    apply_softmax: Optional[bool] = None
    scale: float = 1.0 / 255.0
    mean: Optional[Sequence[float]] = None
    std: Optional[Sequence[float]] = None
    resize_mode: str = "stretch"
    max_image_pixels: int = imaging.DEFAULT_MAX_PIXELS

    labels: list[str]
    image_mode: str
    image_size: tuple[int, int]

    def initialize(self, context: Any) -> None:
        super().initialize(context)  # type: ignore[misc]
        self.initialized = False
        classes = int(self.output_shapes[0][-1])  # type: ignore[attr-defined]
        self.labels = self._read_labels(classes)
        self.softmax_needed = (not self.output_is_probability()  # type: ignore[attr-defined]
                               if self.apply_softmax is None else bool(self.apply_softmax))
        log.info("vision service: %s images %dx%d, %d classes, softmax %s",
                 self.image_mode, *self.image_size, classes, "applied" if self.softmax_needed else "in graph")
        self.initialized = True

    def check_signature(self, signature: Signature) -> None:
        """One NCHW input, batch axis first, 1 or 3 channels; remembers the image size."""
        if len(signature.inputs) != 1 or len(signature.inputs[0].shape) != 4 or signature.inputs[0].batch_axis != 0:
            raise ServiceError("a vision service needs exactly one NCHW input in signature.json")
        spec = signature.inputs[0]
        channels, height, width = spec.item_shape
        if channels not in imaging.MODES or height < 1 or width < 1:
            raise ServiceError(f"input {spec.name} shape {list(spec.shape)}: expected [0, C, H, W] with C = 1 or 3")
        self.image_mode = imaging.MODES[channels]
        self.image_size = (width, height)

    def _read_labels(self, classes: int) -> list[str]:
        path = os.path.join(self.model_dir, SYNSET_FILE)  # type: ignore[attr-defined]
        if not os.path.exists(path):
            return [str(i) for i in range(classes)]
        with open(path, encoding="utf-8") as handle:
            labels = [line.strip() for line in handle if line.strip()]
        if len(labels) != classes:
            raise ServiceError(f"{SYNSET_FILE} has {len(labels)} labels but the model outputs {classes} classes")
        return labels

    def preprocess_request(self, request: dict, idx: int) -> list[np.ndarray]:
        side = max(self.image_size)  # center_crop scales the shorter side to this
        draft = self.image_size if self.resize_mode == "stretch" else (side, side)
        picture = imaging.read_image(request_body(request), self.image_mode, draft, self.max_image_pixels)
        return [imaging.to_tensor(imaging.fit(picture, self.image_size, self.resize_mode),
                                  self.scale, self.mean, self.std)]

    def postprocess(self, output: list[np.ndarray]) -> list:
        scores = output[0].reshape(output[0].shape[0], -1)
        if self.softmax_needed:
            scores = softmax(scores, axis=1)
        return [[{"probability": p, "class": self.labels[i]} for i, p in top_k(row, self.top_k)] for row in scores]


class MXNetVisionService(VisionMixin, MXNetModelService):
    """Image classification over a symbolic MXNet checkpoint."""


class GluonVisionService(VisionMixin, GluonService):
    """Image classification over a Gluon block."""
