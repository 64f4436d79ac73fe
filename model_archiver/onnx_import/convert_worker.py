"""Child-process half of the conversion: import a sanitized ONNX graph with MXNet,
save the checkpoint, load it back and run it.

Run as ``python convert_worker.py REQUEST.json`` by :mod:`conversion`; it is a
standalone script (it imports nothing from ``model_archiver``) because MXNet's
importer can abort the whole process on a bad shape, and that must not take the
caller down. It reports through the JSON file named in the request:
``{"ok": true, "outputs": [...], "arg_params": n, "aux_params": [...]}`` or
``{"ok": false, "stage": ..., "error": ...}``.
"""
from __future__ import annotations

import json
import sys
import traceback


def _convert(request: dict) -> dict:
    import mxnet as mx
    from mxnet.contrib.onnx.onnx2mx.import_model import import_model

    stage = "import"
    try:
        symbol, arg_params, aux_params = import_model(request["model"])
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
        if request.get("inputs"):
            stage = "run"
            _run(mx, symbol, arg_params, aux_params, request)
        return result
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        detail = traceback.extract_tb(exc.__traceback__)[-1]
        return {
            "ok": False,
            "stage": stage,
            "error": f"{type(exc).__name__}: {_message(exc)}",
            "where": f"{detail.name} ({detail.filename.rsplit('/', 1)[-1]}:{detail.lineno})",
        }


def _message(exc: Exception) -> str:
    """The telling line of an exception: MXNet's carry a C++ backtrace before the reason."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if "Error" in line or "failed" in line or "error" in line]
    return (reasons or lines or [""])[-1][:400]


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


def _run(mx, symbol, arg_params, aux_params, request: dict) -> None:
    """Forward the saved model on the request's inputs, as MMS's MXNet service binds it."""
    import numpy as np

    feeds = np.load(request["inputs"])
    names = list(request["input_names"])
    module = mx.mod.Module(symbol, data_names=names, label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[(n, feeds[n].shape) for n in names])
    module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=False)
    batch = mx.io.DataBatch([mx.nd.array(feeds[n], dtype="float32") for n in names])
    module.forward(batch, is_train=False)
    outputs = [o.asnumpy() for o in module.get_outputs()]
    np.savez(request["outputs"], *outputs)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    result = _convert(request)
    with open(request["result"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
