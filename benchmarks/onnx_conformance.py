"""ONNX conformance: our converter against MXNet's own importer on the onnx wheel's backend test data.

Every float32 case (all graph inputs and outputs float32, test data plain
tensors) of the suites under ``onnx/backend/test/data/`` is run twice:

* ``ours``: :func:`model_archiver.onnx_import.convert` (rewrites, conversion in
  its child process, its own numeric check), then the saved checkpoint is bound
  with MXNet and run on the case's own ``test_data_set_*`` inputs;
* ``mxnet``: ``mx.contrib.onnx.import_model`` on the original file, bound and run
  the same way - the baseline.

Outputs are compared with the case's expected outputs (``|got - want| <= atol +
rtol*|want|``). ``light/`` models ship with every weight replaced by a
``ConstantOfShape`` and no inputs; here each weight becomes a random
initializer (He-scaled, seeded by the model's name) and the expected output is
onnxruntime's on a seeded normal input, so the numbers mean something.

Verdicts: PASS, MISMATCH (ran, wrong numbers or shapes, or the checkpoint
could not be bound/run as MMS binds it), REFUSED (a clear error; ``named``
when it names the node or graph input it is about), CRASH (the process died, e.g.
SIGABRT), TIMEOUT. Each case runs in a pool of long-lived worker processes
that import MXNet once; a worker that dies or overruns is replaced.

Run: ``.venv/bin/python benchmarks/onnx_conformance.py [--suite light --suite node] [--limit N]
[--every N] [--match PATTERN] [--mode ours] [--jobs 2] [--timeout 120] [--failures] [--json FILE]``
(``--every 3`` takes every third ``node/`` case: the sweep then takes about half an hour on two cores).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
SUITES = ("light", "node", "pytorch-converted", "pytorch-operator", "simple")
VERDICTS = ("PASS", "MISMATCH", "REFUSED named", "REFUSED unnamed", "CRASH", "TIMEOUT")
ATOL, RTOL = 1e-4, 1e-3
# A refusal is "named" when it quotes a node label as onnx_import.graph.node_label writes it (or
# names the graph input it is about).
NAMED_NODE = re.compile(r"node ('[^']*'|#\d+)|input '")


def data_root() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data"


# ---------------------------------------------------------------- cases (parent side)

def list_cases(suites: list[str], match: Optional[str], limit: Optional[int], every: int = 1) -> list[dict[str, str]]:
    """The float32 cases of ``suites``, sorted, filtered by ``match``, every ``every``-th of
    ``node/`` (the only large suite), and cut to ``limit`` per suite."""
    root = data_root()
    cases = []
    for suite in suites:
        found = []
        if suite == "light":
            found = [{"suite": suite, "name": p.stem, "path": str(p)} for p in sorted((root / suite).glob("*.onnx"))]
        else:
            for folder in sorted((root / suite).iterdir()):
                if (folder / "model.onnx").is_file() and _is_float32_case(folder):
                    found.append({"suite": suite, "name": folder.name, "path": str(folder)})
        if match:
            found = [c for c in found if re.search(match, c["name"])]
        if suite == "node":
            found = found[::every]
        cases.extend(found[:limit] if limit else found)
    return cases


def _is_float32_case(folder: Path) -> bool:
    import onnx

    try:
        model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    except Exception:  # noqa: BLE001 - unreadable cases are not float32 cases
        return False
    weights = {t.name for t in model.graph.initializer}
    values = [i for i in model.graph.input if i.name not in weights] + list(model.graph.output)
    if not values or len(values) == len(model.graph.output):
        return False
    if any(v.type.WhichOneof("value") != "tensor_type" or v.type.tensor_type.elem_type != onnx.TensorProto.FLOAT
           for v in values):
        return False
    sets = sorted(folder.glob("test_data_set_*"))
    return bool(sets) and all(_is_tensor_file(p) for s in sets for p in s.glob("*.pb"))


def _is_tensor_file(path: Path) -> bool:
    import onnx

    tensor = onnx.TensorProto()
    try:
        tensor.ParseFromString(path.read_bytes())
    except Exception:  # noqa: BLE001
        return False
    return tensor.data_type == onnx.TensorProto.FLOAT


# ---------------------------------------------------------------- worker side

def load_case(case: dict[str, str], scratch: Path) -> tuple[Path, list[tuple[dict, list]]]:
    """The model file to convert and its ``[(inputs by name, expected outputs)]`` sets."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    if case["suite"] == "light":
        return _randomized_light(Path(case["path"]), scratch)
    folder = Path(case["path"])
    model = onnx.load(str(folder / "model.onnx"))
    weights = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in weights]

    def read(path: Path) -> np.ndarray:
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        return numpy_helper.to_array(tensor)

    sets = []
    for data in sorted(folder.glob("test_data_set_*")):
        inputs = [read(p) for p in sorted(data.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        outputs = [read(p) for p in sorted(data.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        sets.append((dict(zip(names, inputs)), outputs))
    return folder / "model.onnx", sets


def _randomized_light(path: Path, scratch: Path) -> tuple[Path, list[tuple[dict, list]]]:
    """The light model with each ConstantOfShape weight replaced by a random initializer."""
    import zlib

    import numpy as np
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    model = onnx.load(str(path))
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in constants:
            shape = tuple(int(d) for d in constants[node.input[0]])
            if len(shape) >= 2:
                value = rng.normal(0.0, np.sqrt(2.0 / max(1, int(np.prod(shape[1:])))), shape)
            else:
                value = rng.uniform(0.5, 1.5, shape)
            model.graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    unused = [t for t in model.graph.initializer if t.name not in used]
    for tensor in unused:
        model.graph.initializer.remove(tensor)
    gone = {t.name for t in unused}
    listed = [i for i in model.graph.input if i.name not in gone]
    names = {i.name for i in listed}
    # IR 3, as the model zoo shipped these files: every weight is also a graph input.
    listed += [onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
               for t in model.graph.initializer if t.name not in names]
    del model.graph.input[:]
    model.graph.input.extend(listed)
    target = scratch / path.name
    onnx.save(model, str(target))
    weights = {t.name for t in model.graph.initializer}
    feeds = {}
    for info in model.graph.input:
        if info.name not in weights:
            dims = [d.dim_value or 1 for d in info.type.tensor_type.shape.dim]
            feeds[info.name] = rng.normal(0.0, 1.0, dims).astype(np.float32)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    return target, [(feeds, session.run(None, feeds))]


def run_checkpoint(mx, symbol, arg_params, aux_params, feeds: dict) -> list:
    """Bind as MMS does (data names = the feeds, no labels) and run one forward pass."""
    names = list(feeds)
    module = mx.mod.Module(symbol, data_names=names, label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[(n, feeds[n].shape) for n in names])
    module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=True)
    module.forward(mx.io.DataBatch([mx.nd.array(feeds[n], dtype="float32") for n in names]), is_train=False)
    return [o.asnumpy() for o in module.get_outputs()]


def compare(got: list, want: list) -> Optional[str]:
    """``None`` when every output matches, else why not."""
    import numpy as np

    if len(got) != len(want):
        return f"{len(got)} output(s), expected {len(want)}"
    for index, (actual, expected) in enumerate(zip(got, want)):
        if tuple(actual.shape) != tuple(expected.shape):
            return f"output {index} shape {list(actual.shape)}, expected {list(expected.shape)}"
        actual, expected = actual.astype(np.float64), expected.astype(np.float64)
        same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))  # as assert_allclose: NaN == NaN
        with np.errstate(invalid="ignore"):
            error = np.where(same, 0.0, np.abs(actual - expected))
            close = same | (error <= ATOL + RTOL * np.abs(expected))
        if not np.all(close):
            return f"output {index} max abs diff {float(np.nanmax(np.where(close, 0.0, error), initial=0.0)):.3g}"
    return None


def evaluate(mx, mode: str, case: dict[str, str]) -> dict[str, Any]:
    """One case in one mode: verdict, detail, conversion seconds."""
    with tempfile.TemporaryDirectory(prefix="onnx-conf-") as scratch:
        model_path, sets = load_case(case, Path(scratch))
        started = time.perf_counter()
        try:
            if mode == "ours":
                from model_archiver.errors import ArchiverError
                from model_archiver.onnx_import import convert

                try:
                    convert(model_path, model_name="case", work_dir=Path(scratch) / "out")
                except ArchiverError as exc:
                    seconds = time.perf_counter() - started
                    message = str(exc)
                    named = "named" if NAMED_NODE.search(message) else "unnamed"
                    return {"verdict": f"REFUSED {named}", "detail": message[:300], "seconds": seconds}
                seconds = time.perf_counter() - started
                symbol, arg_params, aux_params = mx.model.load_checkpoint(str(Path(scratch) / "out" / "case"), 0)
            else:
                try:
                    symbol, arg_params, aux_params = mx.contrib.onnx.import_model(str(model_path))
                except Exception as exc:  # noqa: BLE001 - MXNet's refusal, as data
                    seconds = time.perf_counter() - started
                    message = f"{type(exc).__name__}: {_strip(str(exc))}"
                    named = "named" if NAMED_NODE.search(message) else "unnamed"
                    return {"verdict": f"REFUSED {named}", "detail": message[:300], "seconds": seconds}
                seconds = time.perf_counter() - started
            for feeds, expected in sets:
                try:
                    got = run_checkpoint(mx, symbol, arg_params, aux_params, feeds)
                except Exception as exc:  # noqa: BLE001 - a converted model that cannot run is wrong
                    return {"verdict": "MISMATCH", "detail": f"run failed: {_strip(str(exc))[:200]}", "seconds": seconds}
                problem = compare(got, expected)
                if problem:
                    return {"verdict": "MISMATCH", "detail": problem, "seconds": seconds}
            return {"verdict": "PASS", "detail": "", "seconds": seconds}
        except Exception as exc:  # noqa: BLE001 - a bug in the harness or the case, reported not raised
            return {"verdict": "MISMATCH", "detail": f"harness: {type(exc).__name__}: {_strip(str(exc))[:200]}",
                    "seconds": time.perf_counter() - started}


def _strip(text: str) -> str:
    """The telling line of an MXNet message, without ANSI colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reasons = [line for line in lines if "Error" in line or "failed" in line]
    return (reasons or lines or [""])[-1]


def worker_main() -> int:
    """Serve JSON requests on stdin, one JSON answer per line on the saved stdout."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything MXNet/onnx print goes to stderr, never into the protocol
    import logging

    logging.disable(logging.CRITICAL)
    import mxnet as mx
    import mxnet.contrib.onnx  # noqa: F401 - import once, before the first case

    import model_archiver.onnx_import  # noqa: F401

    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        protocol.write(json.dumps(evaluate(mx, request["mode"], request["case"])) + "\n")
    return 0


# ---------------------------------------------------------------- pool (parent side)

class Worker:
    """One long-lived worker process; replaced after a crash or a timeout."""

    def __init__(self) -> None:
        self.process: Optional[subprocess.Popen] = None

    def _start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=str(REPO), start_new_session=True,
        )
        ready = self._read(120.0)
        if ready is None or not ready.get("ready"):
            raise RuntimeError("benchmark worker did not start")

    def _read(self, timeout: float) -> Optional[dict]:
        assert self.process and self.process.stdout
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else {"eof": True}

    def run(self, mode: str, case: dict[str, str], timeout: float) -> dict[str, Any]:
        if self.process is None or self.process.poll() is not None:
            self._start()
        assert self.process and self.process.stdin
        started = time.perf_counter()
        self.process.stdin.write(json.dumps({"mode": mode, "case": case}) + "\n")
        self.process.stdin.flush()
        answer = self._read(timeout)
        elapsed = time.perf_counter() - started
        if answer is None:
            self.stop()
            return {"verdict": "TIMEOUT", "detail": f"over {timeout:.0f} s", "seconds": elapsed}
        if answer.get("eof"):
            code = self.process.wait()
            self.process = None
            return {"verdict": "CRASH", "detail": f"worker died (exit {code})", "seconds": elapsed}
        return answer

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the worker and its conversion child
            self.process.wait()
            self.process = None


def run_all(cases: list[dict[str, str]], modes: list[str], jobs: int, timeout: float, progress: bool) -> list[dict]:
    """Every (case, mode), spread over ``jobs`` workers by threads that each own one worker."""
    import queue
    import threading

    tasks: "queue.Queue[tuple[dict, str]]" = queue.Queue()
    for case in cases:
        for mode in modes:
            tasks.put((case, mode))
    results: list[dict] = []
    lock = threading.Lock()

    def drain() -> None:
        worker = Worker()
        try:
            while True:
                try:
                    case, mode = tasks.get_nowait()
                except queue.Empty:
                    return
                answer = worker.run(mode, case, timeout)
                row = {**case, "mode": mode, **answer}
                with lock:
                    results.append(row)
                    if progress:
                        print(f"[{len(results)}/{len(cases) * len(modes)}] {case['suite']}/{case['name']} {mode}: "
                              f"{row['verdict']} {row['seconds']:.1f}s {row['detail'][:120]}", file=sys.stderr)
        finally:
            worker.stop()

    threads = [threading.Thread(target=drain) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------- report

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(results: list[dict], modes: list[str]) -> str:
    """The Markdown table: verdict counts per suite and mode, then conversion time percentiles."""
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for row in results:
        counts[(row["suite"], row["mode"])][row["verdict"]] += 1
        counts[("all", row["mode"])][row["verdict"]] += 1
    suites = [s for s in (*SUITES, "all") if any((s, m) in counts for m in modes)]
    lines = ["| suite | importer | cases | " + " | ".join(VERDICTS) + " |", "|---|---|---:|" + "---:|" * len(VERDICTS)]
    for suite in suites:
        for mode in modes:
            tally = counts[(suite, mode)]
            lines.append(f"| {suite} | {mode} | {sum(tally.values())} | " + " | ".join(str(tally[v]) for v in VERDICTS) + " |")
    passes = {m: counts[("all", m)]["PASS"] for m in modes}
    if "ours" in passes and passes.get("mxnet"):
        lines.append(f"\nPASS ratio ours/mxnet: {passes['ours'] / passes['mxnet']:.2f}")
    lines.append("\n| conversion time (s) | cases | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        for suite in ("light", "all"):
            times = [r["seconds"] for r in results if r["mode"] == mode and (suite == "all" or r["suite"] == suite)
                     and r["verdict"] != "TIMEOUT"]
            if times:
                lines.append(f"| {mode} ({suite}) | {len(times)} | {percentile(times, 50):.2f} | {percentile(times, 90):.2f} "
                             f"| {percentile(times, 99):.2f} | {max(times):.2f} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=SUITES, help="Suite(s) to run (default: all).")
    parser.add_argument("--match", help="Only cases whose name matches this regular expression.")
    parser.add_argument("--limit", type=int, help="At most this many cases per suite.")
    parser.add_argument("--every", type=int, default=1, help="Every N-th case of node/ only (default 1: all).")
    parser.add_argument("--mode", action="append", choices=("ours", "mxnet"), help="Importer(s) (default: both).")
    parser.add_argument("--jobs", type=int, default=2, help="Worker processes (default 2).")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds per case and importer (default 120).")
    parser.add_argument("--json", type=Path, help="Also write every row (verdict, detail, seconds) here.")
    parser.add_argument("--failures", action="store_true", help="List every non-PASS row after the table.")
    parser.add_argument("-q", "--quiet", action="store_true", help="No per-case progress on stderr.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main()
    modes = args.mode or ["ours", "mxnet"]
    cases = list_cases(args.suite or list(SUITES), args.match, args.limit, args.every)
    started = time.perf_counter()
    results = run_all(cases, modes, args.jobs, args.timeout, not args.quiet)
    results.sort(key=lambda r: (r["suite"], r["name"], r["mode"]))
    print(report(results, modes))
    print(f"\n{len(cases)} case(s), {len(modes)} importer(s), {args.jobs} worker(s), {time.perf_counter() - started:.0f} s wall")
    if args.failures:
        for row in results:
            if row["verdict"] != "PASS":
                print(f"{row['suite']}/{row['name']} {row['mode']}: {row['verdict']} {row['detail']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
