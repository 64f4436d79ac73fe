"""The quantization subprocess: ``python -m model_archiver.quantization.worker REQUEST.json``.

It decodes the inputs with the model's service, quantizes, writes the INT8
checkpoint and signature into the request's ``work_dir``, runs FP32 and INT8
on the held-out inputs, and writes ``result.json`` (outputs as ``.npy``).
Library errors are reported in ``result.json`` (kind + message); a crash of
MXNet leaves no result and the parent reports the signal.
"""
from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from model_archiver.errors import ArchiverError, UsageError
from model_archiver.quantization.calibration import InputSet, load_tensors, service_decoder
from model_archiver.quantization.layers import head_names

RESULT = "result.json"


def run(request: dict[str, Any]) -> dict[str, Any]:
    import mxnet as mx

    from model_archiver.quantization.quantize import forward, quantize_checkpoint

    work = Path(request["work_dir"])
    signature = json.loads(Path(request["signature"]).read_text(encoding="utf-8"))
    spec = signature["inputs"][0]
    item_shape = [d for i, d in enumerate(spec["data_shape"]) if i != _batch_axis(spec["data_shape"])]
    decode = _decoder(request, signature)
    calib = load_tensors(InputSet.from_dict(request["calibration"]), item_shape, decode)
    held = load_tensors(InputSet.from_dict(request["eval"]), item_shape, decode)

    started = time.perf_counter()
    symbol = mx.sym.load(request["symbol"])
    loaded = mx.nd.load(request["params"])
    args = {k[4:]: v for k, v in loaded.items() if k.startswith("arg:")}
    auxs = {k[4:]: v for k, v in loaded.items() if k.startswith("aux:")}
    result = quantize_checkpoint(symbol, args, auxs, spec["data_name"], calib, request["calib_mode"],
                                 request["exclude_layers"], request["default_exclusions"])
    seconds = time.perf_counter() - started
    prefix = work / request["model_name"]
    mx.model.save_checkpoint(str(prefix), request["epoch"], result.symbol, result.arg_params, result.aux_params)
    (work / "signature.json").write_text(json.dumps(_renamed(signature, result.symbol), indent=2) + "\n")
    np.save(work / "fp32.npy", forward(symbol, args, auxs, spec["data_name"], held))
    np.save(work / "int8.npy", forward(result.symbol, result.arg_params, result.aux_params, spec["data_name"], held))
    return {"ok": True, "exclusions": result.exclusions.to_dict(), "int8_layers": result.int8_layers,
            "calibration_seconds": round(seconds, 3), "calibration_count": int(len(calib)),
            "mxnet_version": mx.__version__}


def _batch_axis(shape: list[int]) -> int:
    return shape.index(0) if 0 in shape else 0


def _decoder(request: dict[str, Any], signature: dict) -> Optional[Any]:
    """The model's vision service decoding request bytes; None when the handler is no vision service."""
    from service_sdk.services.vision import VisionMixin, MXNetVisionService

    service_class: Any = MXNetVisionService
    if request.get("handler"):
        sys.path.insert(0, request["model_dir"])
        module_name, _, attr = request["handler"].partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr or "handle")
        except Exception as exc:  # noqa: BLE001 - user code: any failure is a usage problem
            raise UsageError(f"cannot import handler {request['handler']} to decode images: {exc}") from None
        service_class = getattr(target, "service_class", target)
    if not (isinstance(service_class, type) and issubclass(service_class, VisionMixin)):
        return None
    return service_decoder(service_class, signature)


def _renamed(signature: dict, symbol: Any) -> dict:
    """The signature with outputs named after the INT8 graph's heads (fusion renames them)."""
    heads = head_names(json.loads(symbol.tojson()))
    outputs = signature.get("outputs", [])
    if len(outputs) == len(heads):
        signature = {**signature, "outputs": [{**out, "data_name": name} for out, name in zip(outputs, heads)]}
    return signature


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        outcome = run(request)
    except ArchiverError as exc:
        outcome = {"ok": False, "error_type": type(exc).__name__, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - MXNet errors on a damaged or unsupported checkpoint
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        outcome = {"ok": False, "error_type": "ConversionError", "message": f"quantization failed: {first}"}
    Path(request["work_dir"], RESULT).write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
