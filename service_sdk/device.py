"""Where the model runs: Elastic Inference accelerator, GPU or CPU.

Order of preference (``auto``):

1. **EIA** when the MXNet build has Elastic Inference. Legacy EI MXNet
   (<= 1.5.1) exposes ``mx.eia()`` as a context; EI MXNet >= 1.7 ships the
   ``eimx`` package, binds on ``mx.cpu()`` and partitions the graph with
   ``sym.optimize_for('EIA')`` / ``hybridize(backend='EIA')``.
2. **GPU** ``mx.gpu(gpu_id)`` when the server assigned a GPU to this worker and
   MXNet sees at least one.
3. **CPU** otherwise.

Input NDArrays are always created on the CPU (:data:`INPUT_CONTEXT`): EI copies
them to the accelerator itself and must never be handed arrays allocated on
the EIA context.

The choice can be forced with the ``SERVICE_SDK_DEVICE`` environment variable
(``auto``, ``eia``, ``gpu``, ``cpu``; the operator wins) or a service's
``device`` class attribute. A forced choice the machine cannot honour is an
error, not a silent fallback.

EI calls are sequential per accelerator, so one worker per accelerator is the
best configuration (:data:`EIA_WORKERS_PER_ACCELERATOR`). The EIA path is
written to AWS's documented API but has not been run on EI hardware here.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Any, Optional

from service_sdk.errors import ServiceError

log = logging.getLogger(__name__)

ENV_VAR = "SERVICE_SDK_DEVICE"
CHOICES = ("auto", "eia", "gpu", "cpu")
EIA_BACKEND = "EIA"
EIA_WORKERS_PER_ACCELERATOR = 1


@dataclass(frozen=True)
class Capabilities:
    """What this process's MXNet can do; probed once, injectable in tests."""

    legacy_eia: bool = False
    eimx: bool = False
    num_gpus: int = 0

    @property
    def has_eia(self) -> bool:
        return self.legacy_eia or self.eimx


def probe_capabilities() -> Capabilities:
    """Ask the installed MXNet (imported here, not at module import)."""
    import mxnet as mx

    return Capabilities(
        legacy_eia=callable(getattr(mx, "eia", None)),
        eimx=importlib.util.find_spec("eimx") is not None,
        num_gpus=int(mx.context.num_gpus()),
    )


@dataclass(frozen=True)
class DeviceChoice:
    """The selected device and why; turns into MXNet contexts on demand."""

    kind: str
    device_id: int = 0
    reason: str = ""
    backend: Optional[str] = None

    def model_context(self) -> Any:
        """The context to bind the model (or place a Gluon net's parameters) on."""
        import mxnet as mx

        if self.kind == "eia" and self.backend:
            importlib.import_module("eimx")  # registers the EIA partitioning backend
            return mx.cpu()
        if self.kind == "eia":
            return mx.eia()
        if self.kind == "gpu":
            return mx.gpu(self.device_id)
        return mx.cpu()

    @property
    def copies_inputs(self) -> bool:
        """Whether inputs must be copied to the model's context (GPU only; EI copies itself)."""
        return self.kind == "gpu"

    def __str__(self) -> str:
        where = f"{self.kind}({self.device_id})" if self.kind == "gpu" else self.kind
        return f"{where}: {self.reason}"


def input_context() -> Any:
    """The context input NDArrays are created on: always the CPU."""
    import mxnet as mx

    return mx.cpu()


def requested_device(class_default: Optional[str] = None) -> str:
    """The forced choice: ``SERVICE_SDK_DEVICE`` first, then the class attribute, else ``auto``."""
    value = os.environ.get(ENV_VAR) or class_default or "auto"
    value = value.strip().lower()
    if value not in CHOICES:
        raise ServiceError(f"invalid device {value!r} (from {ENV_VAR} or the service's 'device'): "
                           f"choose one of {', '.join(CHOICES)}")
    return value


def select_device(
    gpu_id: Optional[int],
    requested: str = "auto",
    capabilities: Optional[Capabilities] = None,
) -> DeviceChoice:
    """Pick the device for a worker the server assigned ``gpu_id`` (None on CPU hosts)."""
    caps = capabilities if capabilities is not None else probe_capabilities()
    if requested == "cpu":
        return DeviceChoice("cpu", reason="forced")
    if requested == "eia":
        if not caps.has_eia:
            raise ServiceError("EIA was requested but this MXNet build has no Elastic Inference "
                               "(no mx.eia and no eimx package)")
        return _eia(caps, "forced")
    if requested == "gpu":
        if caps.num_gpus == 0:
            raise ServiceError("GPU was requested but MXNet sees no GPU")
        return DeviceChoice("gpu", gpu_id or 0, reason="forced")
    if caps.has_eia:
        return _eia(caps, "Elastic Inference available")
    if gpu_id is not None and caps.num_gpus > 0:
        if gpu_id >= caps.num_gpus:
            raise ServiceError(f"the server assigned GPU {gpu_id} but MXNet sees only {caps.num_gpus}")
        return DeviceChoice("gpu", gpu_id, reason="GPU assigned by the server")
    if gpu_id is not None:
        return DeviceChoice("cpu", reason=f"GPU {gpu_id} assigned but MXNet sees no GPU (CPU-only build?)")
    return DeviceChoice("cpu", reason="no accelerator assigned")


def _eia(caps: Capabilities, why: str) -> DeviceChoice:
    if caps.eimx:
        return DeviceChoice("eia", reason=f"{why} (eimx, optimize_for('{EIA_BACKEND}'))", backend=EIA_BACKEND)
    return DeviceChoice("eia", reason=f"{why} (mx.eia context)")


def log_choice(choice: DeviceChoice, model_name: str) -> None:
    """Log the choice once per model load, with the EI sizing advice when it applies."""
    log.info("model %s runs on %s", model_name, choice)
    if choice.kind == "eia":
        log.info("EI calls are sequential: configure %d worker per accelerator", EIA_WORKERS_PER_ACCELERATOR)
