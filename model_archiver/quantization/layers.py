"""Which layers of a oneDNN-fused graph to quantize, keep FP32, or refuse.

Works on the graph JSON only (no MXNet), so the rules are testable and the
report can name layers exactly as they appear in the exported symbol. Names
are those of the fused graph (``sg_mkldnn_conv_bn_act_0``...); a pattern also
matches a fused node through the original layer names inside it (``conv0_fwd``).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Sequence

from model_archiver.errors import ConversionError, UsageError

CONV_OPS = frozenset({"Convolution", "_sg_mkldnn_conv"})
DENSE_OPS = frozenset({"FullyConnected", "_sg_mkldnn_fully_connected"})
SOFTMAX_OPS = ("softmax", "Softmax", "SoftmaxOutput", "SoftmaxActivation", "log_softmax")
# Layers that carry the arithmetic: leaving one FP32 when it was meant to be INT8 is what
# "half-quantized silently" would mean, so such a layer is refused by name instead.
HEAVY_OPS = CONV_OPS | DENSE_OPS | frozenset({"Deconvolution", "RNN", "dot", "batch_dot", "Embedding",
                                             "_contrib_interleaved_matmul_selfatt_qk",
                                             "_contrib_interleaved_matmul_selfatt_valatt"})


@dataclass(frozen=True)
class Exclusions:
    """Layers kept FP32 and why: ``reasons`` maps a node name to a short reason."""

    names: tuple[str, ...]
    ops: tuple[str, ...]
    reasons: dict[str, str]

    def to_dict(self) -> dict[str, str]:
        return {name: self.reasons[name] for name in self.names}


def compute_nodes(graph: dict) -> list[dict]:
    """The graph's operator nodes in topological order (variables left out)."""
    return [node for node in graph["nodes"] if node.get("op") != "null"]


def inner_names(node: dict) -> list[str]:
    """Original layer names folded into a fused node (empty for a plain node)."""
    names: list[str] = []
    for subgraph in node.get("subgraphs", []) or []:
        names += [inner["name"] for inner in subgraph.get("nodes", []) if inner.get("op") != "null"]
    return names


def choose_exclusions(graph: dict, patterns: Sequence[str], defaults: bool) -> Exclusions:
    """First conv, last dense and softmax (when ``defaults``) plus every node a pattern matches."""
    nodes = compute_nodes(graph)
    reasons: dict[str, str] = {}
    if defaults:
        convs = [n for n in nodes if n["op"] in CONV_OPS]
        denses = [n for n in nodes if n["op"] in DENSE_OPS]
        if convs:
            reasons[convs[0]["name"]] = _reason("first convolution", convs[0])
        if denses:
            reasons.setdefault(denses[-1]["name"], _reason("last dense layer", denses[-1]))
        for node in nodes:
            if node["op"] in SOFTMAX_OPS:
                reasons[node["name"]] = "softmax"
    for pattern in patterns:
        matched = [n["name"] for n in nodes if _matches(n, pattern)]
        if not matched:
            sample = ", ".join(n["name"] for n in nodes[:6])
            raise UsageError(f"--exclude-layers {pattern!r} matches no layer (layers are named like {sample})")
        for name in matched:
            reasons.setdefault(name, f"--exclude-layers {pattern}")
    names = tuple(n["name"] for n in nodes if n["name"] in reasons)
    return Exclusions(names, SOFTMAX_OPS if defaults else (), reasons)


def _reason(what: str, node: dict) -> str:
    """``what``, with the original layer names a fused node stands for."""
    inner = inner_names(node)
    return f"{what}: {'+'.join(inner)}" if inner else what


def _matches(node: dict, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in [node["name"], *inner_names(node)])


def is_quantized(node: dict) -> bool:
    """Whether a node of the quantized graph runs in INT8."""
    attrs = node.get("attrs", {}) or {}
    return (node["name"].startswith("quantized_") or node["op"].startswith("_contrib_quantized")
            or str(attrs.get("quantized", "")).lower() == "true")


def check_quantized(quantized_graph: dict, exclusions: Exclusions) -> list[str]:
    """The INT8 layer names; refuses heavy layers left FP32 that were not excluded, by name."""
    nodes = compute_nodes(quantized_graph)
    int8 = [n["name"] for n in nodes if is_quantized(n)]
    left = [n for n in nodes if n["op"] in HEAVY_OPS and not is_quantized(n) and n["name"] not in exclusions.names]
    if left:
        listed = ", ".join(f"{n['name']} ({n['op']})" for n in left[:8])
        raise ConversionError(
            f"cannot quantize {len(left)} layer(s) with MXNet's oneDNN INT8 kernels: {listed}; "
            f"keep them FP32 explicitly with --exclude-layers {' '.join(n['name'] for n in left[:8])}")
    if not int8:
        raise ConversionError("nothing in this graph can be quantized to INT8 "
                              f"(operators: {', '.join(sorted({n['op'] for n in nodes}))})")
    return int8


def head_names(graph: dict) -> list[str]:
    """The node names of the graph's outputs, for the signature's ``outputs[].data_name``."""
    return [graph["nodes"][head[0]]["name"] for head in graph["heads"]]

