"""Run in a child interpreter: MXNet shape inference for a symbol, given shapes.

Standard library plus MXNet only (executed with ``python -c``). Arguments: the
symbol file and a request/result JSON file. The request holds ``inputs``
(name -> shape), ``params`` (name -> saved shape); the result has the
inferred output shapes and MXNet's own argument and auxiliary-state lists, or
the first line of MXNet's error. Run in a child because bad shapes can abort
the MXNet process instead of raising.
"""
import json
import sys


def main():
    symbol_file, exchange = sys.argv[1], sys.argv[2]
    with open(exchange) as handle:
        request = json.load(handle)
    try:
        import mxnet as mx
    except ImportError as exc:
        result = {"ok": False, "stage": "mxnet", "error": str(exc)}
    else:
        symbol = mx.sym.load(symbol_file)
        known = {k: tuple(v) for k, v in request["params"].items()}
        known.update({k: tuple(v) for k, v in request["inputs"].items()})
        names = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
        try:
            _, outputs, _ = symbol.infer_shape(**{k: v for k, v in known.items() if k in names})
        except Exception as exc:  # noqa: BLE001 - MXNetError carries the diagnosis
            message = str(exc).strip().splitlines()
            result = {"ok": False, "stage": "infer", "error": next((l for l in message if "Error" in l), message[0] if message else "")}
        else:
            result = {"ok": True, "outputs": [list(s) if s is not None else None for s in outputs],
                      "output_names": symbol.list_outputs(),
                      "arguments": symbol.list_arguments(), "aux": symbol.list_auxiliary_states()}
    with open(exchange, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":  # run via ``python -c``; importing it does nothing
    main()
