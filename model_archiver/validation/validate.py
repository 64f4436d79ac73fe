"""Run every check on a model's files and collect all problems in one list.

The same entry point serves a directory about to be archived (through
:func:`validate_directory`, which sees exactly the files the builder would
archive) and an archive already built (:func:`validate_archive`). Nothing is
raised for a bad model: each finding is a :class:`Problem`, and the caller
decides (with :func:`report.failing`) whether the set fails.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, BinaryIO, Sequence

from model_archiver.layout import HANDLER_PATTERN, MAR_INF, MODEL_NAME_PATTERN
from model_archiver.sources import FileSource, MappingSource
from model_archiver.validation import handler as handler_checks
from model_archiver.validation.model_files import Checkpoint, check_model_files
from model_archiver.validation.params import SavedParam, check_params, saved_params
from model_archiver.validation.params_format import ParamsFormatError, ParamsHeader, read_params_header
from model_archiver.validation.report import Problem, error, warning
from model_archiver.validation.signature import SIGNATURE_NAME, check_against_graph, class_dimension, load_signature
from model_archiver.validation.symbol import Graph, parse_graph
from model_archiver.validation.synset import SYNSET_NAME, check_synset

log = logging.getLogger(__name__)
MANIFEST_FILE = f"{MAR_INF}/MANIFEST.json"


def validate_source(
    source: FileSource,
    *,
    model_name: str,
    handler: str,
    model_dir: Path | None = None,
    check_import: bool = False,
    check_shapes: bool = False,
) -> list[Problem]:
    """All problems in ``source``: manifest values, handler, model files, signature, symbol, params, synset.

    ``model_dir`` is only used by ``check_import`` when ``source`` cannot map
    names to real files (without it the files are copied to a temporary dir).
    """
    names = source.names()
    problems = _manifest_values(model_name, handler)
    problems += _handler(source, names, handler, model_dir, check_import)
    checkpoint, found = check_model_files(names, model_name)
    problems += found
    signature = None
    if SIGNATURE_NAME in names:
        signature, found = load_signature(_read(source, SIGNATURE_NAME))
        problems += found
    graph, saved = None, None
    if checkpoint is not None:
        graph, saved, found = _checkpoint(source, checkpoint, signature, SIGNATURE_NAME in names, check_shapes)
        problems += found
    if SYNSET_NAME in names:
        classes, origin = _class_count(signature, graph)
        problems += check_synset(_read(source, SYNSET_NAME), classes, origin)
    log.debug("validated %d files: %d problem(s)", len(names), len(problems))
    return problems


def validate_directory(
    model_dir: Path,
    *,
    model_name: str,
    handler: str,
    excludes: Sequence[str] = (),
    check_import: bool = False,
    check_shapes: bool = False,
) -> list[Problem]:
    """Validate exactly the files ``model-archiver`` would archive from ``model_dir``."""
    from model_archiver.packaging.collect import collect_files

    files = collect_files(Path(model_dir), excludes=excludes)
    source = MappingSource({f.arcname: f.path for f in files})
    return validate_source(
        source, model_name=model_name, handler=handler, check_import=check_import, check_shapes=check_shapes
    )


def validate_archive(reader: Any) -> list[Problem]:
    """Validate the model files inside an opened archive (name and handler from its manifest)."""
    model = reader.manifest["model"]
    return validate_source(_WithoutMarInf(reader), model_name=model["modelName"], handler=model["handler"])


class _WithoutMarInf:
    """An archive's files minus ``MAR-INF/``, which the archiver writes and validation ignores."""

    def __init__(self, source: FileSource):
        self._source = source

    def names(self) -> list[str]:
        return [n for n in self._source.names() if not n.startswith(f"{MAR_INF}/")]

    def size(self, name: str) -> int:
        return self._source.size(name)

    def open(self, name: str) -> BinaryIO:
        return self._source.open(name)


def _read(source: FileSource, name: str) -> bytes:
    with source.open(name) as stream:
        return stream.read()


def _manifest_values(model_name: str, handler: str) -> list[Problem]:
    problems = []
    if not MODEL_NAME_PATTERN.match(model_name):
        problems.append(error(MANIFEST_FILE, f"model name '{model_name}' must match {MODEL_NAME_PATTERN.pattern}",
                              "manifest.invalid-model-name"))
    if not HANDLER_PATTERN.match(handler):
        problems.append(error(MANIFEST_FILE, f"handler '{handler}' is not MODULE[:FUNCTION] "
                                             f"(must match {HANDLER_PATTERN.pattern})", "manifest.invalid-handler"))
    return problems


def _handler(
    source: FileSource, names: list[str], handler: str, model_dir: Path | None, check_import: bool
) -> list[Problem]:
    spec = handler_checks.HandlerSpec.parse(handler)
    file, problems = handler_checks.locate_module(spec, names)
    if file is None:
        return problems
    problems = handler_checks.check_handler_source(spec, file, _read(source, file))
    if check_import and not any(p.code == "handler.syntax-error" for p in problems):
        from model_archiver.validation.import_check import check_import as run_import

        problems += run_import(spec, file, source, model_dir)
    return problems


def _checkpoint(
    source: FileSource,
    checkpoint: Checkpoint,
    signature: dict[str, Any] | None,
    has_signature_file: bool,
    check_shapes: bool,
) -> tuple[Graph | None, dict[str, SavedParam] | None, list[Problem]]:
    graph, problems = parse_graph(_read(source, checkpoint.symbol), checkpoint.symbol)
    saved: dict[str, SavedParam] | None = None
    inputs = {i["data_name"] for i in signature["inputs"]} if signature else None
    for params_file in sorted(checkpoint.params.values()):
        header, found = _params_header(source, params_file)
        problems += found
        if header is None:
            continue
        entries, found = saved_params(header, params_file)
        problems += found
        if graph is not None:
            problems += check_params(graph, entries, params_file, inputs)
        saved = entries if saved is None else saved
    if graph is None:
        return None, saved, problems
    if signature is not None:
        problems += check_against_graph(signature, graph, set(saved) if saved is not None else None)
    elif not has_signature_file:
        problems.append(warning(SIGNATURE_NAME, f"missing: MMS's MXNet services read the input names and shapes "
                                                f"of {checkpoint.symbol} from it; add one (ignore if your handler "
                                                "binds the model itself)", "signature.missing"))
    if check_shapes and saved is not None and not any(p.is_error for p in problems):
        from model_archiver.validation.shape_check import check_shapes as run_shapes

        shapes = {name: p.array.shape for name, p in saved.items() if p.array.shape is not None}
        problems += run_shapes(source, checkpoint.symbol, signature, shapes)
    return graph, saved, problems


def _params_header(source: FileSource, params_file: str) -> tuple[ParamsHeader | None, list[Problem]]:
    try:
        with source.open(params_file) as stream:
            return read_params_header(stream, source.size(params_file)), []
    except ParamsFormatError as exc:
        return None, [error(params_file, f"MXNet cannot load it: {exc}; re-export or re-copy the file",
                            "params.unreadable")]


def _class_count(signature: dict[str, Any] | None, graph: Graph | None) -> tuple[int | None, str]:
    declared = class_dimension(signature)
    if declared is not None:
        return declared, f"{SIGNATURE_NAME} outputs[0]"
    if graph is not None:
        return graph.class_count(), f"the final layer of {graph.file}"
    return None, ""
