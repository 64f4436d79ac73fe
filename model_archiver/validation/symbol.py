"""Read an MXNet ``-symbol.json`` graph and answer what validation asks of it.

Only the JSON is read (no MXNet): which variables are inputs, labels,
parameters or auxiliary states; what the heads are called; the class count of
a classifier's final layer; and the parameter shapes the operators' own
attributes pin down. MXNet decides auxiliary states per operator (inputs it
mutates), so a small table names the operators that have them; a variable fed
to an operator this module does not know is left "unknown" rather than guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from model_archiver.safety.json_members import parse
from model_archiver.validation.report import Problem, error

ARG = "arg"
AUX = "aux"
UNKNOWN = "unknown"

# operator -> input positions that are auxiliary states (mutated, saved as "aux:").
_AUX_INPUTS: dict[str, frozenset[int]] = {
    name: frozenset({3, 4})
    for name in (
        "BatchNorm",
        "BatchNorm_v1",
        "CuDNNBatchNorm",
        "SyncBatchNorm",
        "_contrib_SyncBatchNorm",
        "_contrib_BatchNormWithReLU",
        "_contrib_quantized_batch_norm",
    )
}
# Operators whose inputs/aux states are defined elsewhere (custom ops, subgraphs, control flow).
_OPAQUE_PREFIXES = ("Custom", "_sg_", "_CachedOp", "_foreach", "_while_loop", "_cond", "_subgraph")
# Loss heads: the input at position 1 is a training label, not a serving input.
_LABEL_INPUTS = {
    name: 1
    for name in (
        "SoftmaxOutput",
        "Softmax",
        "LinearRegressionOutput",
        "LogisticRegressionOutput",
        "MAERegressionOutput",
        "SVMOutput",
    )
}
# Inputs at these positions hold learned weights, never data.
_WEIGHT_OPS = frozenset(
    {
        "FullyConnected",
        "Convolution",
        "Deconvolution",
        "Embedding",
        "LayerNorm",
        "GroupNorm",
        "InstanceNorm",
        "LeakyReLU",
        *_AUX_INPUTS,
    }
)
# Attributes Gluon/Symbol API put on parameter variables only.
_PARAM_ATTRS = ("__init__", "__lr_mult__", "__wd_mult__")
# Shape- and class-preserving ops between a classifier's last FullyConnected and the head.
_PASSTHROUGH = frozenset(
    {
        "SoftmaxOutput",
        "Softmax",
        "softmax",
        "log_softmax",
        "SoftmaxActivation",
        "Activation",
        "sigmoid",
        "Dropout",
        "identity",
        "_copy",
        "BlockGrad",
        "stop_gradient",
        "MakeLoss",
        "make_loss",
    }
)
_INT = re.compile(r"-?[0-9]{1,18}")


@dataclass
class Graph:
    """A parsed symbol file: nodes, which of them are variables, and the heads."""

    file: str
    nodes: list[dict[str, Any]]
    arg_nodes: list[int]
    heads: list[list[int]]
    consumers: dict[str, list[tuple[dict[str, Any], int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._variables = {self.nodes[i]["name"]: self.nodes[i] for i in self.arg_nodes}
        for node in self.nodes:
            for position, entry in enumerate(node["inputs"]):
                source = self.nodes[entry[0]]
                if source["op"] == "null":
                    self.consumers.setdefault(source["name"], []).append((node, position))

    @property
    def variables(self) -> list[str]:
        """Every variable (input, label, parameter, aux state), in graph order."""
        return [self.nodes[i]["name"] for i in self.arg_nodes]

    def node(self, name: str) -> dict[str, Any]:
        """The variable node called ``name``."""
        return self._variables[name]

    def role(self, name: str) -> str:
        """``aux`` / ``arg`` as MXNet would list the variable, or ``unknown``."""
        roles = set()
        for consumer, position in self.consumers.get(name, []):
            op = consumer["op"]
            if op.startswith(_OPAQUE_PREFIXES):
                return UNKNOWN
            roles.add(AUX if position in _AUX_INPUTS.get(op, ()) else ARG)
        return roles.pop() if len(roles) == 1 else UNKNOWN

    def labels(self) -> set[str]:
        """Variables that only feed a loss head's label slot (not needed for inference)."""
        found = set()
        for name in self.variables:
            uses = self.consumers.get(name, [])
            if uses and all(_LABEL_INPUTS.get(c["op"]) == p for c, p in uses):
                found.add(name)
        return found

    def looks_like_parameter(self, name: str) -> bool:
        """True when the variable carries parameter attributes or feeds a weight slot."""
        attrs = _attrs(self.node(name))
        if any(key in attrs for key in _PARAM_ATTRS):
            return True
        return any(c["op"] in _WEIGHT_OPS and p >= 1 for c, p in self.consumers.get(name, []))

    def declared(self, name: str, key: str) -> str | None:
        """A variable's ``__shape__``/``__dtype__`` attribute, if the exporter wrote one."""
        return _attrs(self.node(name)).get(key)

    def head_names(self) -> list[set[str]]:
        """For each head, the names a signature may use for it (node name or MXNet output name)."""
        names = []
        for entry in self.heads:
            node = self.nodes[entry[0]]
            index = entry[1] if len(entry) > 1 else 0
            base = node["name"]
            names.append({base, f"{base}_output", f"{base}_output{index}"})
        return names

    def class_count(self) -> int | None:
        """``num_hidden`` of the FullyConnected that feeds the single head, if there is one."""
        if len(self.heads) != 1:
            return None
        node = self.nodes[self.heads[0][0]]
        while node["op"] in _PASSTHROUGH and node["inputs"]:
            node = self.nodes[node["inputs"][0][0]]
        if node["op"] != "FullyConnected":
            return None
        return _int_attr(node, "num_hidden")

    def expected_shapes(self) -> dict[str, tuple[tuple[int | None, ...], str]]:
        """Parameter shapes fixed by operator attributes: name -> (shape, reason).

        ``None`` in a shape is a dimension the attributes do not determine.
        """
        expected: dict[str, tuple[tuple[int | None, ...], str]] = {}
        for node in self.nodes:
            for position, shape, why in _operator_shapes(node):
                entry = node["inputs"][position] if position < len(node["inputs"]) else None
                if entry is not None and self.nodes[entry[0]]["op"] == "null":
                    expected[self.nodes[entry[0]]["name"]] = (shape, f"{node['name']} ({node['op']} {why})")
        return expected


def parse_graph(raw: bytes, file: str) -> tuple[Graph | None, list[Problem]]:
    """Parse and structurally check a symbol file; problems instead of exceptions."""
    try:
        document = parse(raw, file)
    except ValueError as exc:
        return None, [error(file, f"{exc}; re-export the model with HybridBlock.export", "symbol.invalid-json")]
    reason = _structure_error(document)
    if reason:
        return None, [error(file, f"not an MXNet graph: {reason}; re-export the model with HybridBlock.export", "symbol.malformed")]
    return Graph(file, document["nodes"], document["arg_nodes"], document["heads"]), []


def _structure_error(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "top level is not an object"
    for key in ("nodes", "arg_nodes", "heads"):
        if not isinstance(document.get(key), list):
            return f"missing list '{key}'"
    nodes = document["nodes"]
    for index, node in enumerate(nodes):
        if not (isinstance(node, dict) and isinstance(node.get("op"), str) and isinstance(node.get("name"), str)):
            return f"nodes[{index}] lacks 'op' or 'name'"
        if not isinstance(node.get("inputs"), list) or not all(_is_ref(e, index) for e in node["inputs"]):
            return f"nodes[{index}] ('{node['name']}') has inputs that are not earlier nodes"
        for key in ("attrs", "attr", "param"):
            attrs = node.get(key)
            if attrs is not None and not (isinstance(attrs, dict) and all(isinstance(v, str) for v in attrs.values())):
                return f"nodes[{index}] ('{node['name']}') has '{key}' that is not an object of strings"
    for index in document["arg_nodes"]:
        if not (isinstance(index, int) and 0 <= index < len(nodes) and nodes[index]["op"] == "null"):
            return f"arg_nodes entry {index!r} is not a variable node"
    if not document["heads"] or not all(_is_ref(e, len(nodes)) for e in document["heads"]):
        return "heads do not name existing nodes"
    return None


def _is_ref(entry: Any, limit: int) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) >= 2
        and all(isinstance(v, int) for v in entry)
        and 0 <= entry[0] < limit
    )


def _attrs(node: dict[str, Any]) -> dict[str, str]:
    """Operator attributes; older MXNet wrote them as ``attr`` or ``param``."""
    return node.get("attrs") or node.get("attr") or node.get("param") or {}


def _int_attr(node: dict[str, Any], key: str) -> int | None:
    value = _attrs(node).get(key)
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.lstrip("-").isdigit() and text.isascii() and len(text) <= 18 else None


def _tuple_attr(node: dict[str, Any], key: str) -> tuple[int, ...] | None:
    value = _attrs(node).get(key)
    return tuple(int(v) for v in _INT.findall(value)) if isinstance(value, str) else None


def _flag(node: dict[str, Any], key: str) -> bool:
    value = _attrs(node).get(key, "False")
    return value.strip().lower() in ("true", "1")


def parse_shape_attr(value: str) -> tuple[int | None, ...]:
    """A ``__shape__`` attribute; 0 (legacy) and -1 (numpy semantics) mean "unknown"."""
    return tuple(d if d > 0 else None for d in (int(v) for v in _INT.findall(value)))


def _operator_shapes(node: dict[str, Any]):
    """Yield ``(input position, shape, reason)`` for weights an operator's attributes fix."""
    op = node["op"]
    if op == "FullyConnected":
        hidden = _int_attr(node, "num_hidden")
        if hidden is not None:
            yield 1, (hidden, None), f"num_hidden={hidden}"
            if not _flag(node, "no_bias"):
                yield 2, (hidden,), f"num_hidden={hidden}"
    elif op == "Convolution":
        filters, kernel = _int_attr(node, "num_filter"), _tuple_attr(node, "kernel")
        layout = _attrs(node).get("layout", "None")
        if filters is not None and kernel and layout in ("None", "NCW", "NCHW", "NCDHW"):
            yield 1, (filters, None, *kernel), f"num_filter={filters}, kernel={kernel}"
        if filters is not None and not _flag(node, "no_bias"):
            yield 2, (filters,), f"num_filter={filters}"
    elif op == "Deconvolution":
        filters = _int_attr(node, "num_filter")
        if filters is not None and not _flag(node, "no_bias") and "no_bias" in _attrs(node):
            yield 2, (filters,), f"num_filter={filters}"
    elif op == "Embedding":
        rows, cols = _int_attr(node, "input_dim"), _int_attr(node, "output_dim")
        if rows is not None and cols is not None:
            yield 1, (rows, cols), f"input_dim={rows}, output_dim={cols}"


