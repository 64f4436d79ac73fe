"""Check a checkpoint's ``.params`` header against its symbol graph.

``mx.model.load_checkpoint`` splits every saved name at ``:`` into ``arg:`` and
``aux:`` dicts, and MMS's services then call ``Module.set_params`` with
``allow_missing=True`` and no extras allowed: a stray or mis-prefixed name
fails at load time, and a missing one silently serves uninitialised weights.
Shapes are checked where the graph fixes them (operator attributes and the
``__shape__``/``__dtype__`` attributes exporters write on variables).
"""
from __future__ import annotations

from dataclasses import dataclass

from model_archiver.validation.params_format import DTYPES, FLOAT_DTYPES, ArrayHeader, ParamsHeader
from model_archiver.validation.report import Problem, error, warning
from model_archiver.validation.symbol import ARG, AUX, Graph, parse_shape_attr

_PREFIXES = (ARG, AUX)
_BATCHNORM_PARAMS = range(1, 5)  # gamma, beta, moving mean, moving var


@dataclass(frozen=True)
class SavedParam:
    prefix: str
    name: str
    array: ArrayHeader

    @property
    def key(self) -> str:
        return f"{self.prefix}:{self.name}"


def saved_params(header: ParamsHeader, file: str) -> tuple[dict[str, SavedParam], list[Problem]]:
    """Split saved names into ``arg:``/``aux:`` entries; problems for names MXNet cannot split."""
    if header.arrays and not header.names:
        return {}, [error(file, "arrays are saved without names; save a dict of 'arg:'/'aux:' names "
                                "(HybridBlock.export does)", "params.unnamed")]
    unprefixed = [n for n in header.names if ":" not in n]
    if unprefixed and len(unprefixed) == len(header.names):
        return {}, [error(file, f"no name has an 'arg:' or 'aux:' prefix (e.g. '{unprefixed[0]}'): this looks like "
                                "Gluon save_parameters output; write the checkpoint with HybridBlock.export",
                          "params.unprefixed-name")]
    saved: dict[str, SavedParam] = {}
    problems = []
    for key, array in zip(header.names, header.arrays):
        prefix, _, name = key.partition(":")
        if not name or prefix not in _PREFIXES:
            problems.append(error(file, f"'{key}' does not start with 'arg:' or 'aux:'; rename it",
                                  "params.unprefixed-name"))
        elif name in saved:
            problems.append(error(file, f"'{key}' is saved twice (also as '{saved[name].key}'); keep one",
                                  "params.duplicate-name"))
        elif array.shape is None:
            problems.append(error(file, f"'{key}' is an empty (none) array; save the real value",
                                  "params.empty-array"))
        else:
            saved[name] = SavedParam(prefix, name, array)
    return saved, problems


def check_params(
    graph: Graph, saved: dict[str, SavedParam], file: str, inputs: set[str] | None
) -> list[Problem]:
    """Names, arg/aux placement, shapes and dtypes of ``saved`` against ``graph``."""
    variables = set(graph.variables)
    problems = _names(graph, saved, file, inputs or set(), variables)
    known = {name: p for name, p in saved.items() if name in variables}
    return problems + _shapes(graph, known, file) + _batchnorm_groups(graph, known, file) + _dtypes(graph, known, file)


def _names(
    graph: Graph, saved: dict[str, SavedParam], file: str, inputs: set[str], variables: set[str]
) -> list[Problem]:
    problems = []
    for name, param in saved.items():
        if name not in variables:
            problems.append(error(file, f"'{param.key}' is not a variable of {graph.file}; remove it "
                                        "(MXNet refuses extra parameters)", "params.unexpected"))
        elif name in inputs:
            problems.append(error(file, f"'{param.key}' is an input in signature.json; remove it from the "
                                        "checkpoint or from the signature", "params.contains-input"))
        else:
            role = graph.role(name)
            if role in _PREFIXES and role != param.prefix:
                kind = "an auxiliary state" if role == AUX else "an argument"
                problems.append(error(file, f"'{param.key}' is {kind} in {graph.file}; save it as "
                                            f"'{role}:{name}'", "params.wrong-prefix"))
    labels = graph.labels()
    for name in graph.variables:
        if name in saved or name in inputs or name in labels or not graph.looks_like_parameter(name):
            continue
        role = graph.role(name)
        expected = f"'{role}:{name}'" if role in _PREFIXES else f"'arg:{name}' or 'aux:{name}'"
        problems.append(error(file, f"no value for {expected}, which {graph.file} needs; re-export the "
                                    "checkpoint so symbol and params match", "params.missing"))
    return problems


def _shapes(graph: Graph, known: dict[str, SavedParam], file: str) -> list[Problem]:
    expected = graph.expected_shapes()
    problems = []
    for name, param in known.items():
        wanted, reason = expected.get(name, (None, ""))
        if wanted is None and graph.declared(name, "__shape__"):
            wanted, reason = parse_shape_attr(graph.declared(name, "__shape__")), f"its __shape__ in {graph.file}"
        if wanted is not None and not _fits(param.array.shape, wanted):
            problems.append(error(file, f"'{param.key}' has shape {param.array.shape} but {reason} needs "
                                        f"{_show(wanted)}; re-export the checkpoint", "params.shape-mismatch"))
    return problems


def _batchnorm_groups(graph: Graph, known: dict[str, SavedParam], file: str) -> list[Problem]:
    """A BatchNorm's gamma, beta and moving statistics must all have the same length."""
    problems = []
    for node in graph.nodes:
        if node["op"] not in ("BatchNorm", "BatchNorm_v1", "SyncBatchNorm", "_contrib_SyncBatchNorm"):
            continue
        members = [graph.nodes[node["inputs"][i][0]]["name"] for i in _BATCHNORM_PARAMS if i < len(node["inputs"])]
        shapes = {known[m].array.shape for m in members if m in known}
        if len(shapes) > 1:
            listed = ", ".join(f"'{known[m].key}' {known[m].array.shape}" for m in members if m in known)
            problems.append(error(file, f"{node['name']} (BatchNorm) parameters differ in shape: {listed}; "
                                        "re-export the checkpoint", "params.shape-mismatch"))
    return problems


def _dtypes(graph: Graph, known: dict[str, SavedParam], file: str) -> list[Problem]:
    problems = []
    for name, param in known.items():
        declared_name = _dtype_name(graph.declared(name, "__dtype__"))
        if declared_name and declared_name != param.array.dtype:
            problems.append(warning(file, f"'{param.key}' is {param.array.dtype} but {graph.file} declares "
                                          f"{declared_name}; MXNet will cast it at load time",
                                    "params.dtype-mismatch"))
        elif not declared_name and param.array.dtype not in FLOAT_DTYPES and not _feeds_quantized_op(graph, name):
            problems.append(warning(file, f"'{param.key}' has non-float dtype {param.array.dtype}; check the "
                                          "export (weights are normally float32)", "params.non-float-dtype"))
    return problems


def _feeds_quantized_op(graph: Graph, name: str) -> bool:
    """Whether ``name`` is an input of an INT8 op (``quantize`` output): int8 weights are its point."""
    uses = graph.consumers.get(name, [])
    return bool(uses) and all(
        "quantize" in consumer["op"] or str((consumer.get("attrs") or {}).get("quantized", "")).lower() == "true"
        for consumer, _ in uses
    )


def _dtype_name(flag: str | None) -> str | None:
    """The dtype an exporter's ``__dtype__`` attribute (an mshadow type flag) names."""
    if flag is None or not flag.isdigit() or int(flag) not in DTYPES:
        return None
    return DTYPES[int(flag)][0]


def _fits(shape: tuple[int, ...] | None, wanted: tuple[int | None, ...]) -> bool:
    return shape is not None and len(shape) == len(wanted) and all(w is None or w == s for s, w in zip(shape, wanted))


def _show(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")
