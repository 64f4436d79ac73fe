"""Check ``signature.json``: its schema, and its names against the symbol's graph.

MMS's MXNet services bind the module with the signature's input names and
shapes, so an input the graph does not have (or a graph input the signature
forgets) only fails when the server loads the model. These checks move that
failure to build time.
"""
from __future__ import annotations

import mimetypes
from typing import Any

from model_archiver.safety.json_members import parse
from model_archiver.schema import schema_errors
from model_archiver.validation.report import Problem, error, warning
from model_archiver.validation.symbol import Graph

SIGNATURE_NAME = "signature.json"
# Types inference clients commonly send that Python's built-in table does not list.
_EXTRA_MIME_TYPES = frozenset(
    {"application/x-npy", "application/x-image", "application/x-recordio-protobuf", "application/jsonlines"}
)
_MIME_MAJORS = frozenset({"application", "audio", "image", "text", "video"})


def known_mime_types() -> frozenset[str]:
    """Python's built-in MIME table (not the host's /etc/mime.types) plus inference types."""
    table = mimetypes.MimeTypes()
    builtin = set(table.types_map[True].values()) | set(table.types_map[False].values())
    return frozenset(builtin) | _EXTRA_MIME_TYPES


def load_signature(raw: bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parse and schema-check; return the document only when it is usable for cross-checks."""
    try:
        document = parse(raw, SIGNATURE_NAME)
    except ValueError as exc:
        return None, [error(SIGNATURE_NAME, f"{exc}; fix the syntax", "signature.invalid-json")]
    problems = [
        error(SIGNATURE_NAME, f"{_display_path(path)}: {message}", "signature.schema")
        for path, message in schema_errors(document, "signature")
    ]
    if problems:
        return None, problems
    return document, _duplicates(document) + _mime_types(document) + _batch_dimensions(document)


def _display_path(path: str) -> str:
    return path[2:] if path.startswith("$.") else path


def _duplicates(document: dict[str, Any]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for index, item in enumerate(document["inputs"]):
        name = item["data_name"]
        if name in seen:
            problems.append(
                error(
                    SIGNATURE_NAME,
                    f"inputs[{index}].data_name '{name}' repeats inputs[{seen[name]}]; input names must be unique",
                    "signature.duplicate-input",
                )
            )
        seen.setdefault(name, index)
    return problems


def _mime_types(document: dict[str, Any]) -> list[Problem]:
    known = known_mime_types()
    problems = []
    for key in ("input_type", "output_type"):
        value = document.get(key)
        if value is None:
            continue
        major, _, minor = value.lower().partition("/")
        if value.lower() in known or (minor == "*" and major in _MIME_MAJORS):
            continue
        problems.append(
            warning(
                SIGNATURE_NAME,
                f"{key} '{value}' is not a known MIME type; use a registered one such as image/jpeg or application/json",
                "signature.unknown-mime-type",
            )
        )
    return problems


def _batch_dimensions(document: dict[str, Any]) -> list[Problem]:
    return [
        warning(
            SIGNATURE_NAME,
            f"inputs[{index}].data_shape[0] is {item['data_shape'][0]}; use 0 for the batch dimension"
            " (MMS sets it to the batch size)",
            "signature.fixed-batch",
        )
        for index, item in enumerate(document["inputs"])
        if item["data_shape"][0] != 0
    ]


def check_against_graph(document: dict[str, Any], graph: Graph, params: set[str] | None) -> list[Problem]:
    """Signature inputs are exactly the graph's free inputs; outputs name its heads.

    ``params`` are the parameter names saved in the checkpoint (None when the
    params file could not be read); free inputs are variables that are neither
    parameters nor training labels.
    """
    variables = graph.variables
    labels = graph.labels()
    saved = params or set()
    free = [v for v in variables if v not in saved and v not in labels and not graph.looks_like_parameter(v)]
    names = [item["data_name"] for item in document["inputs"]]
    problems = [
        error(
            SIGNATURE_NAME,
            f"inputs[{index}].data_name '{name}' not in symbol inputs {free}",
            "signature.input-not-in-symbol",
        )
        for index, name in enumerate(names)
        if name not in variables or name in labels or name in saved
    ]
    problems += [
        error(
            SIGNATURE_NAME,
            f"symbol input '{name}' of {graph.file} is missing from inputs; add it with its data_shape",
            "signature.missing-input",
        )
        for name in free
        if name not in names
    ]
    return problems + _outputs(document, graph)


def _outputs(document: dict[str, Any], graph: Graph) -> list[Problem]:
    heads = graph.head_names()
    problems = []
    for index, item in enumerate(document.get("outputs", [])):
        name = item.get("data_name")
        if name is not None and not any(name in aliases for aliases in heads):
            head_list = sorted(min(aliases, key=len) for aliases in heads)
            problems.append(
                error(
                    SIGNATURE_NAME,
                    f"outputs[{index}].data_name '{name}' not in symbol outputs {head_list}",
                    "signature.output-not-in-symbol",
                )
            )
    classes = graph.class_count()
    outputs = document.get("outputs", [])
    if classes is not None and len(outputs) == 1 and "data_shape" in outputs[0]:
        last = outputs[0]["data_shape"][-1]
        if last not in (0, classes):
            problems.append(
                error(
                    SIGNATURE_NAME,
                    f"outputs[0].data_shape ends in {last} but the final layer of {graph.file} has {classes} outputs",
                    "signature.output-shape-mismatch",
                )
            )
    return problems


def class_dimension(document: dict[str, Any] | None) -> int | None:
    """The class count a single-output signature declares (last dimension), if fixed."""
    if not document or len(document.get("outputs", [])) != 1:
        return None
    shape = document["outputs"][0].get("data_shape")
    return shape[-1] if shape and shape[-1] > 0 and len(shape) >= 2 else None
