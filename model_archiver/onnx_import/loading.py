"""Read an ONNX file and refuse, in one line, anything that is not a usable model."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from model_archiver.errors import ConversionError, UsageError
from model_archiver.onnx_import.graph import DEFAULT_DOMAINS, default_opset, node_label

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ConversionError("ONNX support needs the onnx package: pip install 'model-archiver[onnx]'") from None
    return onnx


def check_exists(path: Path) -> None:
    """Before any output is made: the ONNX file is there (a regular file)."""
    if not Path(path).is_file():
        raise UsageError(f"ONNX file not found: {path}")


def load_onnx(path: Path) -> "ModelProto":
    """Parse and check ``path``; raise :class:`ConversionError` saying what is wrong."""
    onnx = _require_onnx()
    check_exists(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError, RuntimeWarning… alike
        raise ConversionError(f"{path.name} is not a readable ONNX file ({type(exc).__name__}: {_first_line(exc)})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ConversionError(f"{path.name} holds no graph (truncated or not an ONNX model)")
    if default_opset(model) == 0:
        raise ConversionError(f"{path.name} declares no opset for the ONNX domain (opset_import is empty); re-export it")
    _check_known_ops(model, path)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ConversionError(f"{path.name} is not a valid ONNX model: {_first_line(exc)}") from None
    return model


def _check_known_ops(model: "ModelProto", path: Path) -> None:
    """Name the first node whose op ONNX itself does not define (the checker's message doesn't)."""
    import onnx

    opset = default_opset(model)
    for index, node in enumerate(model.graph.node):
        if node.domain in DEFAULT_DOMAINS and not onnx.defs.has(node.op_type):
            raise ConversionError(
                f"{path.name}: node {node_label(node, index)} uses op '{node.op_type}', "
                f"which is not an ONNX operator (opset {opset})"
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
