"""The model's real inputs: names, shapes (resolved where the file leaves them symbolic)
and sample values for verification."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

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


def resolve_inputs(
    model: "ModelProto",
    user_signature: dict[str, Any] | None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> list[InputSpec]:
    """Graph inputs with symbolic non-batch dims filled from ``input_shapes``
    (``--input-shape``), else from the user's signature.

    Only the first (batch) dimension may stay symbolic: MXNet's importer and the
    sanitizer need every other size to fold shapes and check the conversion. A
    given size that contradicts a fixed one in the graph is a usage error.
    """
    specs = graph_inputs(model)
    names = [s.name for s in specs]
    given = _signature_shapes(user_signature, names)
    for name, shape in (input_shapes or {}).items():
        if name not in names:
            raise UsageError(f"--input-shape names {name!r}, but the ONNX graph's inputs are: {', '.join(names)}")
        given[name] = list(shape)
    resolved = []
    for spec in specs:
        dims = list(spec.dims)
        hint = given.get(spec.name)
        if hint is not None and _given(spec.name, input_shapes) and len(hint) != len(dims):
            raise UsageError(f"--input-shape {spec.name}: {len(hint)} dims given, the graph's input has {len(dims)}")
        if hint is not None and len(hint) == len(dims):
            dims = _merge(spec.name, dims, hint)
        dynamic = [i for i, d in enumerate(dims) if d is None and i > 0]
        if dynamic:
            raise ConversionError(
                f"input '{spec.name}' has dynamic dimension(s) {dynamic} in shape {_show(dims)}; only the first "
                f"(batch) dimension may be dynamic: re-export with a fixed size or give it with --input-shape "
                f"{spec.name}=... or in signature.json"
            )
        resolved.append(InputSpec(spec.name, tuple(dims), spec.elem_type))
    _check_common_batch(resolved)
    return resolved


def as_served(specs: Sequence[InputSpec], model: "ModelProto") -> list[InputSpec]:
    """``specs`` with the batch symbolic again wherever the graph declared it so.

    A given batch size is only for folding (see :func:`_merge`); the signature
    MMS reads must still say "any batch".
    """
    symbolic = {spec.name for spec in graph_inputs(model) if spec.dynamic_batch}
    return [InputSpec(s.name, (None, *s.dims[1:]), s.elem_type) if s.name in symbolic and s.dims else s
            for s in specs]


def _given(name: str, input_shapes: Mapping[str, Sequence[int]] | None) -> bool:
    return bool(input_shapes) and name in input_shapes


def _merge(name: str, dims: list[Optional[int]], hint: Sequence[int]) -> list[Optional[int]]:
    """Fill symbolic dims from ``hint``.

    A symbolic batch takes the hint's size too, when it gives one: shape
    arithmetic on the batch (torch's ``Shape -> Gather -> Reshape`` flatten)
    then folds, and :func:`batch_agnostic_reshape` turns the folded batch back
    into MXNet's "copy this dim", so MMS still binds at its own batch size.
    A hint of 0 leaves the batch symbolic.
    """
    merged = []
    for index, (declared, size) in enumerate(zip(dims, hint)):
        size = int(size) if size else None
        if declared is not None and size is not None and size != declared and index > 0:
            raise UsageError(f"input '{name}' dimension {index} is fixed at {declared} in the graph, not {size}")
        merged.append(declared if declared is not None else size)
    return merged


def _check_common_batch(specs: list[InputSpec]) -> None:
    """MMS's MXNet service binds every input with one batch size: refuse graphs whose
    inputs disagree on their first dimension, with the reason."""
    scalars = [s.name for s in specs if not s.dims]
    if scalars:
        raise ConversionError(f"input '{scalars[0]}' is a scalar (rank 0); MXNet modules bind inputs with a batch "
                              "axis: serve the .onnx with OnnxRuntimeService instead")
    firsts = {s.name: s.dims[0] for s in specs}
    if len(specs) > 1 and len(set(firsts.values())) > 1:
        shown = ", ".join(f"input '{s.name}' {_show(list(s.dims))}" for s in specs[:4]) + (" ..." if len(specs) > 4 else "")
        raise ConversionError(
            f"the graph's inputs have different first (batch) dimensions ({shown}); MXNet modules, and MMS's "
            "MXNet service, bind every input with one batch size: serve the .onnx with OnnxRuntimeService instead"
        )


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
    inference can fold what depends on them); a symbolic batch stays symbolic, and a
    ``-1`` batch becomes a named symbolic dim (shape inference reads -1 as a size)."""
    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    by_name = {s.name: s for s in specs}
    for info in fixed.graph.input:
        spec = by_name.get(info.name)
        if spec is None:
            continue
        for dim, size in zip(info.type.tensor_type.shape.dim, spec.dims):
            if size is not None:
                dim.dim_value = size
            elif dim.HasField("dim_value"):
                dim.dim_param = "batch"
    return fixed


def verification_feeds(specs: list[InputSpec], seed: int = 0) -> list[tuple[str, dict[str, "np.ndarray"]]]:
    """Named input draws that exercise signs, magnitudes and ties: normal, large-magnitude
    normal, and small integers with many repeats (ties for ArgMax, pools, sorts).
    Integer inputs get 0/1 in every draw (they are usually indices or masks)."""
    import numpy as np
    from onnx import helper

    rng = np.random.default_rng(seed)
    draws = {
        "normal": lambda shape: rng.standard_normal(shape),
        "large": lambda shape: rng.standard_normal(shape) * 100.0,
        "integers": lambda shape: rng.integers(-3, 4, size=shape),
    }
    sets = []
    for label, draw in draws.items():
        feeds = {}
        for spec in specs:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(spec.elem_type))
            shape = spec.concrete()
            feeds[spec.name] = (draw(shape) if dtype.kind == "f" else rng.integers(0, 2, size=shape)).astype(dtype)
        sets.append((label, feeds))
    return sets


def feeds_from_test_data(folder: Path, specs: list[InputSpec]) -> list[tuple[str, dict[str, "np.ndarray"]]]:
    """Inputs from ``folder`` in the ONNX backend layout: ``test_data_set_*/input_N.pb``
    (or ``input_N.pb`` directly), ``N`` counting the graph's inputs in order."""
    import onnx
    from onnx import numpy_helper

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--test-data {folder}: not a directory")
    sets = sorted(folder.glob("test_data_set_*")) or [folder]
    found = []
    for data in sets:
        files = sorted(data.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[-1]) if p.stem.split("_")[-1].isdigit() else 0)
        if not files:
            continue
        if len(files) != len(specs):
            raise UsageError(f"{data} holds {len(files)} input file(s), the graph has {len(specs)} input(s)")
        feeds = {}
        for spec, path in zip(specs, files):
            tensor = onnx.TensorProto()
            try:
                tensor.ParseFromString(path.read_bytes())
                feeds[spec.name] = numpy_helper.to_array(tensor)
            except Exception as exc:  # noqa: BLE001 - protobuf errors vary
                raise UsageError(f"{path} is not an ONNX TensorProto ({type(exc).__name__})") from None
        found.append((data.name, feeds))
    if not found:
        raise UsageError(f"--test-data {folder}: no input_N.pb files (expected test_data_set_*/input_0.pb ...)")
    return found


def parse_input_shapes(values: Sequence[str]) -> dict[str, list[int]]:
    """``["data=1,3,224,224", ...]`` (``--input-shape``) -> ``{"data": [1, 3, 224, 224]}``."""
    shapes: dict[str, list[int]] = {}
    for value in values:
        name, sep, dims = value.rpartition("=")
        try:
            parsed = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            parsed = []
        if not sep or not name or not parsed or any(d < 0 for d in parsed):
            raise UsageError(f"--input-shape {value!r}: expected NAME=D1,D2,... with non-negative integers")
        if name in shapes:
            raise UsageError(f"--input-shape given twice for {name!r}")
        shapes[name] = parsed
    return shapes
