"""Child-process half of the conversion: import a sanitized ONNX graph with MXNet,
save the checkpoint, load it back and run it on every set of verification inputs.

Run as ``python convert_worker.py REQUEST.json`` by :mod:`conversion`, because
MXNet's importer can abort the whole process on a bad shape and that must not
take the caller down. MXNet is imported once here, for all steps. It reports
through the JSON file named in the request: ``{"ok": true, "outputs": [...],
"arg_params": n, "aux_params": [...]}`` or ``{"ok": false, "stage": ...,
"error": ...}``; an error names the ONNX node and op it happened in.
"""
from __future__ import annotations

import json
import re
import sys
import traceback

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# MXNet's graph errors name the failing operator: "Error in operator convolution3: ..."
_MX_OPERATOR = re.compile(r"operator (\S+?):")


class NodeError(Exception):
    """A failure while translating one ONNX node, with the node named."""


def _import(mx, path: str, labels: dict, probe_names: list):
    """MXNet's ``import_model`` with this package's translations installed and each node's
    failure named; ``labels`` collects MXNet symbol name -> ONNX node for later errors.

    Also returns the MXNet names of ``probe_names`` (ONNX values checked besides the
    outputs, e.g. the logits before a final softmax)."""
    import onnx
    from mxnet.contrib.onnx.onnx2mx import _import_helper
    from mxnet.contrib.onnx.onnx2mx.import_onnx import GraphProto

    from model_archiver.onnx_import.graph import node_label
    from model_archiver.onnx_import.translations import install

    install(_import_helper._convert_map)  # noqa: SLF001 - the importer's own op table
    model = onnx.load_model(path)
    graph = GraphProto()
    graph.opset_version = max(x.version for x in model.opset_import)
    graph.model_metadata = graph.get_graph_metadata(model.graph)
    for tensor in model.graph.initializer:
        graph._params[tensor.name] = graph._parse_array(tensor)  # noqa: SLF001
    for info in model.graph.input:
        shape = graph._params[info.name].shape if info.name in graph._params else None  # noqa: SLF001
        graph._nodes[info.name] = mx.sym.Variable(name=info.name, shape=shape)  # noqa: SLF001
    for index, node in enumerate(model.graph.node):
        where = f"{node.op_type} node {node_label(node, index)}"
        graph.current_node = node  # lets this package's translations see the node's outputs
        try:
            inputs = [graph._nodes[i] for i in node.input]  # noqa: SLF001
            converted = graph._convert_operator(node.name.strip() or None, node.op_type,  # noqa: SLF001
                                                graph._parse_attr(node.attribute), inputs)  # noqa: SLF001
        except KeyError as exc:
            raise NodeError(f"{where}: MXNet's importer needs attribute or input {exc} it does not have") from None
        except Exception as exc:  # noqa: BLE001 - any translation failure, named
            raise NodeError(f"{where}: {_message(exc)}") from None
        labels[converted.name] = where
        for output, position in zip(node.output, range(len(converted.list_outputs()))):
            graph._nodes[output] = converted[position]  # noqa: SLF001
    params = dict(graph._params)  # noqa: SLF001
    outputs = [graph._nodes[o.name] for o in model.graph.output]  # noqa: SLF001
    symbol = outputs[0] if len(outputs) == 1 else mx.sym.Group(list(outputs))
    arg_params = {n: params[n] for n in symbol.list_arguments() if n in params}
    aux_params = {n: params[n] for n in symbol.list_auxiliary_states() if n in params}
    probes = [graph._nodes[name].list_outputs()[0] for name in probe_names]  # noqa: SLF001
    return symbol, arg_params, aux_params, probes


def _convert(request: dict) -> dict:
    import mxnet as mx

    stage, labels = "import", {}
    try:
        symbol, arg_params, aux_params, probes = _import(mx, request["model"], labels, request.get("probes", []))
        symbol = _declare_param_dtypes(mx, symbol, {**arg_params, **aux_params})
        stage = "save"
        # save_checkpoint writes "arg:"/"aux:" prefixes, so BatchNorm's running
        # statistics survive a load with allow_missing=False.
        mx.model.save_checkpoint(request["prefix"], 0, symbol, arg_params, aux_params)
        stage = "load"
        symbol, arg_params, aux_params = mx.model.load_checkpoint(request["prefix"], 0)
        result = {
            "ok": True,
            "outputs": symbol.list_outputs(),
            "arg_params": len(arg_params),
            "aux_params": sorted(aux_params),
        }
        if probes:  # the saved symbol's inner values, checked like outputs
            internals = symbol.get_internals()
            symbol = mx.sym.Group([symbol[i] for i in range(len(symbol.list_outputs()))] + [internals[p] for p in probes])
        for inputs, outputs in zip(request.get("inputs") or [], request.get("outputs") or []):
            stage = "run"
            _run(mx, symbol, arg_params, aux_params, inputs, outputs, request["input_names"])
        return result
    except NodeError as exc:
        return {"ok": False, "stage": stage, "error": str(exc), "where": ""}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        detail = traceback.extract_tb(exc.__traceback__)[-1]
        return {
            "ok": False,
            "stage": stage,
            "error": _named(f"{type(exc).__name__}: {_message(exc)}", labels),
            "where": f"{detail.name} ({detail.filename.rsplit('/', 1)[-1]}:{detail.lineno})",
        }


def _message(exc: Exception) -> str:
    """The telling line of an exception: MXNet's carry a C++ backtrace and colour codes."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    reasons = [line for line in lines if "Error" in line or "failed" in line or "error" in line]
    return (reasons or lines or [type(exc).__name__])[-1][:400]


def _named(message: str, labels: dict) -> str:
    """Append the ONNX node an MXNet operator error came from, when it names one we made."""
    found = _MX_OPERATOR.search(message)
    where = labels.get(found.group(1)) if found else None
    return f"{message} (in {where})" if where else message


def _declare_param_dtypes(mx, symbol, params: dict):
    """Record each weight's dtype on its variable.

    The importer creates untyped variables; ops such as ``take`` (ONNX Gather)
    then fail type inference when MMS binds the model with only the data shapes.
    """
    graph = json.loads(symbol.tojson())
    for node in graph["nodes"]:
        if node["op"] == "null" and node["name"] in params:
            flag = mx.sym.var(node["name"], dtype=params[node["name"]].dtype).attr("__dtype__")
            node.setdefault("attrs", {})["__dtype__"] = flag
    return mx.sym.load_json(json.dumps(graph))


def _run(mx, symbol, arg_params, aux_params, inputs_path: str, outputs_path: str, names: list) -> None:
    """Forward the saved model on one set of inputs, bound as MMS's MXNet service binds it."""
    import numpy as np

    feeds = np.load(inputs_path)
    module = mx.mod.Module(symbol, data_names=names, label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[(n, feeds[n].shape) for n in names])
    module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=False)
    batch = mx.io.DataBatch([mx.nd.array(feeds[n], dtype="float32") for n in names])
    module.forward(batch, is_train=False)
    np.savez(outputs_path, *[o.asnumpy() for o in module.get_outputs()])


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    result = _convert(request)
    with open(request["result"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
