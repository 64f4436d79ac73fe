"""The model's real inputs: names, shapes (resolved where the file leaves them symbolic)
and sample values for verification."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from model_archiver.errors import ConversionError, UsageError
from model_archiver.onnx_import.graph import value_shape

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from onnx import ModelProto

# A dynamic batch dimension is exercised with more than one sample, so a
# conversion that baked batch 1 into the graph is caught.
VERIFY_BATCH = 2


@dataclass(frozen=True)
class InputSpec:
    """One graph input that is not a weight; ``None`` dims are symbolic."""

    name: str
    dims: tuple[Optional[int], ...]
    elem_type: int

    @property
    def dynamic_batch(self) -> bool:
        return bool(self.dims) and self.dims[0] is None

    def concrete(self, batch: int = VERIFY_BATCH) -> tuple[int, ...]:
        """The shape to run with: a symbolic batch dimension becomes ``batch``."""
        return tuple(batch if d is None else d for d in self.dims)


def graph_inputs(model: "ModelProto") -> list[InputSpec]:
    """Inputs the caller feeds (initializers listed as inputs excluded), in graph order."""
    weights = {t.name for t in model.graph.initializer}
    specs = []
    for info in model.graph.input:
        if info.name in weights:
            continue
        shape = value_shape(info)
        if shape is None:
            raise ConversionError(f"input '{info.name}' has no declared shape; re-export with input shapes")
        specs.append(InputSpec(info.name, shape, info.type.tensor_type.elem_type))
    if not specs:
        raise ConversionError("the ONNX graph has no inputs besides its weights")
    return specs


def resolve_inputs(model: "ModelProto", user_signature: dict[str, Any] | None) -> list[InputSpec]:
    """Graph inputs with symbolic non-batch dims filled from the user's signature.

    Only the first (batch) dimension may stay symbolic: MXNet's importer and the
    sanitizer need every other size to fold shapes and check the conversion.
    """
    given = _signature_shapes(user_signature, [s.name for s in graph_inputs(model)])
    resolved = []
    for spec in graph_inputs(model):
        dims = list(spec.dims)
        hint = given.get(spec.name)
        if hint is not None and len(hint) == len(dims):
            dims = [d if d is not None or i == 0 or not hint[i] else int(hint[i]) for i, d in enumerate(dims)]
        dynamic = [i for i, d in enumerate(dims) if d is None and i > 0]
        if dynamic:
            raise ConversionError(
                f"input '{spec.name}' has dynamic dimension(s) {dynamic} in shape {_show(dims)}; only the first "
                "(batch) dimension may be dynamic: re-export with a fixed size or give it in signature.json"
            )
        resolved.append(InputSpec(spec.name, tuple(dims), spec.elem_type))
    return resolved


def _signature_shapes(signature: dict[str, Any] | None, names: list[str]) -> dict[str, list[int]]:
    if not signature:
        return {}
    shapes = {}
    for entry in signature.get("inputs", []):
        name = entry.get("data_name")
        if name not in names:
            raise UsageError(f"signature.json names input {name!r}, but the ONNX graph's inputs are: {', '.join(names)}")
        shapes[name] = entry.get("data_shape")
    return shapes


def _show(dims: list[Optional[int]]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def with_input_dims(model: "ModelProto", specs: list[InputSpec]) -> "ModelProto":
    """A copy of ``model`` whose inputs declare the resolved static dims (so shape
    inference can fold what depends on them); a symbolic batch stays symbolic."""
    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    by_name = {s.name: s for s in specs}
    for info in fixed.graph.input:
        spec = by_name.get(info.name)
        if spec is None:
            continue
        for dim, size in zip(info.type.tensor_type.shape.dim, spec.dims):
            if size is not None and not dim.HasField("dim_value"):
                dim.dim_value = size
    return fixed


def sample_feeds(specs: list[InputSpec], seed: int = 0) -> dict[str, "np.ndarray"]:
    """Random inputs in each input's dtype: floats uniform in [0, 1), integers 0/1."""
    import numpy as np
    from onnx import helper

    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in specs:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(spec.elem_type))
        shape = spec.concrete()
        if dtype.kind == "f":
            feeds[spec.name] = rng.random(shape).astype(dtype)
        else:
            feeds[spec.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds
