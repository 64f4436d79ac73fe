"""``ModelService``: the batch lifecycle every service shares.

MMS calls ``handle(data, context)`` with ``data`` = one dict per request and
expects a list of the same length back. This class splits that into
``preprocess`` → ``inference`` → ``postprocess`` and adds what hand-written
handlers usually get wrong:

* **Per-request failures.** A stage that finds one request unusable raises
  :class:`RequestError` from :meth:`preprocess_request` (or calls
  :meth:`reject` when overriding :meth:`preprocess` wholesale). Only that slot
  gets the 4xx status and a JSON error body; the rest of the batch is still
  predicted. The bookkeeping is reset at every call, so nothing sticks.
* **Hostile bodies stay one slot's problem.** Bodies are decoded by the SDK
  within :attr:`request_limits` (the MMS worker's own decoding, which dies on
  malformed JSON, is switched off: :mod:`service_sdk.request_bodies`), and
  NaN/infinite tensors are refused unless :attr:`allow_non_finite` is set
  (:mod:`service_sdk.request_limits`).
* **Server errors stay server errors.** Any other exception propagates, so MMS
  answers 503 for the batch, and ``MemoryError`` reaches MMS, which answers 507.
* **A load-time entry point.** ``handle = MyService.entry_point()`` at module
  level makes MMS call ``handle(None, context)`` at registration, so an error
  in :meth:`initialize` fails the registration. (With the class form MMS logs
  and swallows exceptions from ``initialize`` and serves a broken model.)
* **Timing metrics** per stage through ``context.metrics.add_time``.

Code against the MMS context API (``system_properties``, ``manifest``,
``set_response_status``…), never against :class:`service_sdk.context.Context`:
in the server the context is MMS's own object.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
import logging
import time
from typing import Any, Callable, Optional

from service_sdk.errors import RequestError, ServiceError
from service_sdk.request_bodies import claim_body_decoding, decode_batch, in_mms_worker, request_body, request_json
from service_sdk.request_limits import DEFAULT_LIMITS, RequestLimits, check_finite

__all__ = ["ModelService", "RequestError", "ServiceError", "request_body", "request_json"]

log = logging.getLogger(__name__)

Handler = Callable[[Optional[list], Any], Optional[list]]
JSON_CONTENT_TYPE = "application/json"


class ModelService(ABC):
    """Base class for a model service; subclass and override the stage hooks.

    Hooks, in call order per batch:

    ``preprocess(batch)``
        ``batch`` is the list MMS passes. The default calls
        :meth:`preprocess_request` per request, rejecting the slots that raise
        :class:`RequestError`, then :meth:`collate` on the surviving items.
    ``inference(model_input)``
        Runs the model on what ``preprocess`` returned (only surviving requests).
    ``postprocess(output)``
        Returns one JSON-serialisable value (or ``bytes``/``str``) per
        surviving request, in order.

    Class attributes:

    ``request_limits``
        a :class:`~service_sdk.request_limits.RequestLimits`: size, depth and
        digit bounds for JSON bodies the SDK decodes.
    ``allow_non_finite`` (False)
        accept NaN and infinities in the arrays ``preprocess_request`` returns;
        by default such a request is refused with 400.
    """

    request_limits: RequestLimits = DEFAULT_LIMITS
    allow_non_finite: bool = False

    def __init__(self) -> None:
        self.context: Any = None
        self.initialized = False
        self._rejected: dict[int, RequestError] = {}

    @classmethod
    def entry_point(cls) -> Handler:
        """A module-level ``handle`` function bound to one lazily built instance.

        Use as ``handle = MyService.entry_point()`` in the handler module and
        archive with ``--handler my_module:handle`` (or just ``my_module``).
        """
        holder: dict[str, ModelService] = {}

        def handle(data: Optional[list], context: Any) -> Optional[list]:
            if "service" not in holder:
                holder["service"] = cls()
            return holder["service"].handle(data, context)

        handle.__doc__ = f"MMS entry point serving {cls.__qualname__}."
        handle.service_class = cls  # type: ignore[attr-defined]
        return handle

    # -- lifecycle -----------------------------------------------------------

    def initialize(self, context: Any) -> None:
        """Load the model. Subclasses call ``super().initialize(context)`` first."""
        claim_body_decoding(context)
        self.context = context
        self.initialized = True

    @property
    def system_properties(self) -> dict:
        return dict(self.context.system_properties)

    @property
    def model_dir(self) -> str:
        return self.context.system_properties["model_dir"]

    @property
    def manifest(self) -> dict:
        return self.context.manifest or {}

    @property
    def batch_size(self) -> int:
        return int(self.context.system_properties.get("batch_size") or 1)

    @property
    def gpu_id(self) -> Optional[int]:
        gpu = self.context.system_properties.get("gpu_id")
        return None if gpu is None else int(gpu)

    def handle(self, data: Optional[list], context: Any) -> Optional[list]:
        """MMS's entry point: initialise on first call, then serve ``data``."""
        claim_body_decoding(context)
        if not self.initialized:
            self.initialize(context)
        if data is None:
            return None
        self.context = context
        return self._serve(data)

    # -- stage hooks ---------------------------------------------------------

    def preprocess(self, batch: list) -> Any:
        """Decode every request; bad ones (see :func:`check_finite` too) are rejected, the rest collated."""
        items = []
        for idx, request in enumerate(batch):
            try:
                item = self.preprocess_request(request, idx)
                check_finite(item, self.allow_non_finite)
                items.append(item)
            except RequestError as exc:
                self.reject(idx, exc)
        # A batch whose every request was rejected has nothing to collate (or run).
        return self.collate(items) if items else None

    def preprocess_request(self, request: dict, idx: int) -> Any:
        """Turn one request into one model item; raise :class:`RequestError` if unusable."""
        return request_body(request)

    def collate(self, items: list) -> Any:
        """Combine the decoded items of the surviving requests into one model input."""
        return items

    @abstractmethod
    def inference(self, model_input: Any) -> Any:
        """Run the model on what :meth:`preprocess` returned. Every service provides this."""

    def postprocess(self, output: Any) -> list:
        """One response per surviving request; the default assumes ``output`` is that list."""
        return list(output)

    # -- per-request failures ------------------------------------------------

    def reject(self, idx: int, error: RequestError) -> None:
        """Fail request ``idx`` of the current batch with ``error`` (a 4xx).

        For services that override :meth:`preprocess` wholesale: reject the bad
        slots and return a model input covering only the others, in order.
        """
        log.info("request %d rejected: %s %s", idx, error.status, error.message)
        self._rejected[idx] = error

    def _serve(self, data: list) -> list:
        self._rejected = {}
        try:
            model_input = self._timed("PreprocessTime", self._decode_and_preprocess, data)
            alive = [idx for idx in range(len(data)) if idx not in self._rejected]
            responses = self._predict(model_input) if alive else []
        except RequestError as exc:
            for idx in range(len(data)):
                self._rejected.setdefault(idx, exc)
            alive, responses = [], []
        if len(responses) != len(alive):
            raise RuntimeError(
                f"{type(self).__name__}.postprocess returned {len(responses)} responses "
                f"for {len(alive)} accepted requests"
            )
        return self._assemble(len(data), alive, responses)

    def _decode_and_preprocess(self, data: list) -> Any:
        return self.preprocess(decode_batch(data, self.context, self.request_limits))

    def _predict(self, model_input: Any) -> list:
        output = self._timed("InferenceTime", self.inference, model_input)
        return list(self._timed("PostprocessTime", self.postprocess, output))

    def _assemble(self, size: int, alive: list[int], responses: list) -> list:
        results: list = [None] * size
        for idx, response in zip(alive, responses):
            results[idx] = response
        # MMS 1.1.11's frontend cannot read a response-header map that arrives
        # split across two socket reads (CodecUtils.readMap ignores its own
        # buffer-underrun signal): the whole batch then fails with "Worker
        # died" and the worker is restarted. A batch answer over ~2 KB is read
        # in pieces, so in a real MMS worker error slots carry no headers (no
        # Content-Type); the JSON body says what went wrong.
        headers = getattr(self.context, "request_processor", None) and not in_mms_worker()
        for idx, error in self._rejected.items():
            results[idx] = json.dumps(error.to_body())
            self.context.set_response_status(error.status, error.phrase, idx)
            if headers:
                self.context.set_response_content_type(idx, JSON_CONTENT_TYPE)
        return results

    def _timed(self, metric: str, stage: Callable[[Any], Any], value: Any) -> Any:
        started = time.perf_counter()
        result = stage(value)
        metrics = getattr(self.context, "metrics", None)
        if metrics is not None:
            metrics.add_time(metric, round((time.perf_counter() - started) * 1000.0, 3))
        return result

