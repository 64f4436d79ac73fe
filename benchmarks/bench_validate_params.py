"""Validation time and peak memory on a checkpoint of >= 1 GiB, against loading it with MXNet.

Builds a model dir with a chain of FullyConnected layers whose float32 weights
add up to ``--size-gib`` (written in MXNet's NDArray-list format in 16 MiB
chunks; a small copy made by the same writer is first checked with
``mx.nd.load`` and ``mx.sym.load``), then in fresh child processes measures:

* ``validate``: ``validate_directory`` (handler, signature, symbol, params header),
* ``import``: the same child doing everything except validation (memory floor),
* ``mxnet``: ``mx.model.load_checkpoint`` - what the MMS worker does at load time.

Run: ``.venv/bin/python benchmarks/bench_validate_params.py [--size-gib 1.0] [--no-baseline]``
"""
from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "bench"
CHUNK = 16 << 20
FLOAT32 = 0
LIST_MAGIC, V2_MAGIC = 0x112, 0xF993FAC9


def write_params(path: Path, arrays: list[tuple[str, tuple[int, ...]]]) -> None:
    """Zero-filled float32 arrays in the layout ``NDArray::Save`` writes (dense, CPU, V2)."""
    zeros = bytes(CHUNK)
    with path.open("wb") as out:
        out.write(struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays)))
        for _, shape in arrays:
            out.write(struct.pack("<Iii", V2_MAGIC, 0, len(shape)) + struct.pack(f"<{len(shape)}q", *shape))
            out.write(struct.pack("<iii", 1, 0, FLOAT32))
            remaining = 4
            for dim in shape:
                remaining *= dim
            while remaining:
                step = min(remaining, CHUNK)
                out.write(zeros[:step])
                remaining -= step
        out.write(struct.pack("<Q", len(arrays)))
        for name, _ in arrays:
            encoded = name.encode()
            out.write(struct.pack("<Q", len(encoded)) + encoded)


def write_model(model_dir: Path, width: int, layers: int) -> None:
    """Symbol, params, signature and handler for ``layers`` FullyConnected(width) layers."""
    model_dir.mkdir(parents=True, exist_ok=True)
    nodes = [{"op": "null", "name": "data", "inputs": []}]
    arg_nodes = [0]
    arrays = []
    previous = 0
    for index in range(layers):
        for suffix, shape in (("weight", (width, width)), ("bias", (width,))):
            arg_nodes.append(len(nodes))
            nodes.append({"op": "null", "name": f"fc{index}_{suffix}", "inputs": []})
            arrays.append((f"arg:fc{index}_{suffix}", shape))
        nodes.append({"op": "FullyConnected", "name": f"fc{index}",
                      "attrs": {"num_hidden": str(width), "flatten": "True", "no_bias": "False"},
                      "inputs": [[previous, 0, 0], [len(nodes) - 2, 0, 0], [len(nodes) - 1, 0, 0]]})
        previous = len(nodes) - 1
    graph = {"nodes": nodes, "arg_nodes": arg_nodes, "node_row_ptr": list(range(len(nodes) + 1)),
             "heads": [[previous, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}}
    (model_dir / f"{NAME}-symbol.json").write_text(json.dumps(graph))
    write_params(model_dir / f"{NAME}-0000.params", arrays)
    signature = {"inputs": [{"data_name": "data", "data_shape": [0, width]}],
                 "outputs": [{"data_name": f"fc{layers - 1}", "data_shape": [0, width]}],
                 "input_type": "application/json", "output_type": "application/json"}
    (model_dir / "signature.json").write_text(json.dumps(signature))
    (model_dir / "service.py").write_text("def handle(data, context):\n    return data\n")


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
mode, model_dir = sys.argv[1], sys.argv[2]
from model_archiver.validation import validate_directory
started = time.perf_counter()
result = None
if mode == "validate":
    result = [str(p) for p in validate_directory(__import__("pathlib").Path(model_dir), model_name="bench", handler="service")]
elif mode == "mxnet":
    import mxnet as mx
    started = time.perf_counter()
    mx.model.load_checkpoint(model_dir + "/bench", 0)
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "problems": result}}))
"""


def measure(mode: str, model_dir: Path) -> dict:
    code = _CHILD.format(repo=str(REPO))
    completed = subprocess.run([sys.executable, "-c", code, mode, str(model_dir)], capture_output=True,
                               text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def check_writer(scratch: Path) -> None:
    """The hand-written format loads in MXNet with the intended names and shapes."""
    small = scratch / "small"
    write_model(small, width=8, layers=2)
    code = ("import mxnet as mx, sys; a = mx.nd.load(sys.argv[1]); s = mx.sym.load(sys.argv[2]);"
            "print(sorted((k, v.shape) for k, v in a.items()), s.list_arguments())")
    out = subprocess.run([sys.executable, "-c", code, str(small / f"{NAME}-0000.params"),
                          str(small / f"{NAME}-symbol.json")], capture_output=True, text=True, check=True).stdout
    assert "('arg:fc1_weight', (8, 8))" in out and "'fc1_bias'" in out, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip loading the checkpoint with MXNet")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    layers = 4
    width = int((args.size_gib * (1 << 30) / layers / 4) ** 0.5) + 1
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-validate-") as scratch_name:
        scratch = Path(scratch_name)
        check_writer(scratch)
        model_dir = scratch / "model"
        started = time.perf_counter()
        write_model(model_dir, width, layers)
        size = (model_dir / f"{NAME}-0000.params").stat().st_size
        print(f"wrote {size / (1 << 30):.2f} GiB params ({layers} x FullyConnected {width}x{width}) "
              f"in {time.perf_counter() - started:.1f} s")
        measure("validate", model_dir)  # warm the page cache for the symbol/handler, like any second run
        floor = measure("import", model_dir)
        result = measure("validate", model_dir)
        assert result["problems"] == [], result["problems"]
        print(f"validate_directory: {result['seconds'] * 1000:.1f} ms, peak RSS {result['peak_rss_mib']:.0f} MiB "
              f"(interpreter + imports alone: {floor['peak_rss_mib']:.0f} MiB, "
              f"+{result['peak_rss_mib'] - floor['peak_rss_mib']:.1f} MiB for validation)")
        if not args.no_baseline:
            baseline = measure("mxnet", model_dir)
            print(f"mx.model.load_checkpoint (baseline): {baseline['seconds'] * 1000:.0f} ms, "
                  f"peak RSS {baseline['peak_rss_mib']:.0f} MiB")
            print(f"ratio: validation is {baseline['seconds'] / result['seconds']:.0f}x faster and uses "
                  f"{baseline['peak_rss_mib'] / result['peak_rss_mib']:.1f}x less peak memory than loading")


if __name__ == "__main__":
    main()
