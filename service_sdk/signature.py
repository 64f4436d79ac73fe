"""``signature.json``: the tensors a model takes and returns.

The MMS format lists ``inputs``/``outputs`` as ``{"data_name", "data_shape"}``;
a ``0`` in ``data_shape`` marks the batch axis (the first axis when there is
none). Services bind the model for the worker's batch size by substituting it
there.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

from service_sdk.errors import ServiceError

SIGNATURE_FILE = "signature.json"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]

    @property
    def batch_axis(self) -> int:
        return self.shape.index(0) if 0 in self.shape else 0

    @property
    def item_shape(self) -> tuple[int, ...]:
        """The shape of one request's tensor (the batch axis removed)."""
        return self.shape[: self.batch_axis] + self.shape[self.batch_axis + 1:]

    def bound_shape(self, batch_size: int) -> tuple[int, ...]:
        """The shape to bind with ``batch_size`` on the batch axis."""
        shape = list(self.shape)
        shape[self.batch_axis] = batch_size
        return tuple(shape)


@dataclass(frozen=True)
class Signature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    input_type: Optional[str] = None
    output_type: Optional[str] = None

    def output_spec(self, index: int) -> Optional[TensorSpec]:
        return self.outputs[index] if index < len(self.outputs) else None


def parse_signature(document: dict, where: str = SIGNATURE_FILE) -> Signature:
    """Check the fields services rely on and return a :class:`Signature`."""
    if not isinstance(document, dict):
        raise ServiceError(f"{where}: expected a JSON object")
    inputs = _tensors(document.get("inputs"), "inputs", where)
    if not inputs:
        raise ServiceError(f"{where}: 'inputs' must list at least one tensor")
    outputs = _tensors(document.get("outputs", []), "outputs", where)
    return Signature(inputs, outputs, document.get("input_type"), document.get("output_type"))


def load_signature(model_dir: str) -> Signature:
    path = os.path.join(model_dir, SIGNATURE_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise ServiceError(f"{SIGNATURE_FILE} not found in {model_dir}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServiceError(f"{SIGNATURE_FILE} is not valid JSON: {exc}") from None
    return parse_signature(document)


def _tensors(entries: object, key: str, where: str) -> tuple[TensorSpec, ...]:
    if not isinstance(entries, list):
        raise ServiceError(f"{where}: '{key}' must be a list")
    specs = []
    for position, entry in enumerate(entries):
        name = entry.get("data_name") if isinstance(entry, dict) else None
        shape = entry.get("data_shape") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise ServiceError(f"{where}: {key}[{position}] needs a 'data_name' string")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape) or not shape:
            raise ServiceError(f"{where}: {key}[{position}] ({name}) needs a 'data_shape' of non-negative integers")
        specs.append(TensorSpec(name, tuple(shape)))
    return tuple(specs)
