"""Batching without a latency tax, in the real Multi Model Server; image preprocessing; executor memory.

    .venv/bin/python benchmarks/bench_batching.py [--rounds 3] [--stock-template DIR] [--models resnet18,digits]

Three parts, every ratio against a baseline measured in this same run:

1. **Preprocessing** kitten.jpg into a 1x3x224x224 float32 tensor: the SDK's
   vision path (Pillow draft decode, one resize, one float conversion) against
   ``mx.image.imdecode`` + ``mx.image.imresize`` (+ the transpose and float
   conversion the model needs). Target: >= 2x faster.
2. **Memory per extra executor** (ResNet-18, random weights): the worker
   process's RSS as the batch-1, -2 and -4 executors are added to the batch-8 one.
3. **The server**: one MMS 1.1.11 with one worker per configuration - the SDK's
   ``MXNetVisionService`` at ``batch_size`` 1, 4 and 8 on ResNet-18 (random
   weights: ``mxnet.gluon.model_zoo.vision.resnet18_v1``, nothing downloaded)
   and on the digits example, plus MMS's own vision service on the same
   ResNet-18 checkpoint as the baseline. Each round visits every configuration
   (in a rotated order, so none always follows the same neighbour): one
   sequential client (p50/p90 latency), then ``--clients`` concurrent clients
   (requests/s, worker CPU per request). Printed: median and range over rounds.

The baseline is MMS's code, never a copy of it: by default the
``mms.model_service.mxnet_vision_service.MXNetVisionService`` of the installed
``multi-model-server`` package (the same decode/resize/forward path as the
``examples/model_service_template`` of awslabs/multi-model-server), driven
through a six-line adapter written at run time; with ``--stock-template DIR``
(a checkout's ``examples/model_service_template``), the template's own files
are archived and served as ``mxnet_vision_service:handle``.

Targets (issue 14): with batch 8, the sequential p50 within 1.2x of batch 1's
plus ``max_batch_delay``, and 8-client throughput no lower than before (9.3
req/s measured for ResNet-18 at batch 8 before per-size executors); SDK batch 1
>= 1.0x the stock throughput and <= its p50; SDK with batching >= 1.5x the
stock throughput under 8 clients. Exit status 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "digits"))

from tests.support.assets import asset  # noqa: E402
from tests.support.mms import KeepAliveClient, MMSServer, importable_by_workers, running_server  # noqa: E402

BATCH_SIZES = (1, 4, 8)
SIZE = 224
BEFORE_B8_RATE = 9.3  # ResNet-18, batch 8, 8 clients, req/s before per-size executors (issue 14's table)
SDK_HANDLER = (
    '"""Benchmark handler: the SDK\'s vision service as shipped."""\n'
    "from service_sdk.services.vision import MXNetVisionService\n\n"
    "handle = MXNetVisionService.entry_point()\n"
)
# Drives the installed MMS package's own vision service (the legacy class API) from MMS 1.0's
# handle(data, context); what it runs - decode, resize, forward, top-5 - is all MMS's code.
STOCK_ADAPTER = '''"""Benchmark adapter: MMS's own MXNetVisionService, from the installed multi-model-server."""
from mms.model_service.mxnet_vision_service import MXNetVisionService

LEGACY_MANIFEST = {"Model": {"Signature": "signature.json", "Symbol": "resnet18-symbol.json",
                             "Parameters": "resnet18-0000.params"}}
_service = []


def handle(data, context):
    if not _service:
        props = context.system_properties
        _service.append(MXNetVisionService("resnet18", props["model_dir"], LEGACY_MANIFEST, props.get("gpu_id")))
    return None if data is None else _service[0].handle(data, context)
'''


def progress(message: str) -> None:
    print(message, flush=True)


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def spread(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """``median (min-max)``."""
    shown = [v * scale for v in values]
    return f"{statistics.median(shown):.{digits}f} ({min(shown):.{digits}f}-{max(shown):.{digits}f})"


# -- models ---------------------------------------------------------------------


def export_resnet18(model_dir: Path) -> Path:
    """ResNet-18 v1 with random (Xavier) weights as a checkpoint + signature + synset."""
    import mxnet as mx

    model_dir.mkdir(parents=True)
    mx.random.seed(0)
    net = mx.gluon.model_zoo.vision.resnet18_v1(pretrained=False)  # random weights: nothing is downloaded
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, SIZE, SIZE)))
    net.export(str(model_dir / "resnet18"), epoch=0)
    graph = json.loads((model_dir / "resnet18-symbol.json").read_text())
    head = graph["nodes"][graph["heads"][0][0]]["name"]
    signature = {"inputs": [{"data_name": "data", "data_shape": [0, 3, SIZE, SIZE]}], "input_type": "image/jpeg",
                 "outputs": [{"data_name": head, "data_shape": [0, 1000]}], "output_type": "application/json"}
    (model_dir / "signature.json").write_text(json.dumps(signature))
    (model_dir / "synset.txt").write_text("".join(f"class {i}\n" for i in range(1000)))
    return model_dir


def archive(model_dir: Path, handler_files: dict[str, str], copies: list[Path], handler: str, out: Path) -> Path:
    """A .mar of ``model_dir`` plus the handler files (written) and ``copies`` (copied in)."""
    from model_archiver import build_archive

    folder = out / f"src-{model_dir.name}-{handler.split(':')[0]}"
    shutil.copytree(model_dir, folder)
    for name, text in handler_files.items():
        (folder / name).write_text(text)
    for path in copies:
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, folder / path.name)
    return build_archive(folder, model_name=model_dir.name, handler=handler, export_path=out / folder.name,
                         validate=False).path


def stock_template_files(directory: Optional[Path]) -> tuple[dict[str, str], list[Path], str]:
    """(files to write, files to copy, handler) of the stock baseline; see the module docstring."""
    if directory is not None:
        entry = directory / "mxnet_vision_service.py"
        if not entry.is_file():
            raise SystemExit(f"--stock-template {directory}: no mxnet_vision_service.py there "
                             "(point it at multi-model-server's examples/model_service_template)")
        return {}, [p for p in directory.iterdir() if p.suffix == ".py" or p.is_dir()], "mxnet_vision_service:handle"
    try:
        import mms.model_service.mxnet_vision_service  # noqa: F401
    except ImportError:
        raise SystemExit("no multi-model-server package installed here: pass --stock-template DIR") from None
    return {"stock_service.py": STOCK_ADAPTER}, [], "stock_service:handle"


# -- part 1: preprocessing ------------------------------------------------------


def best_times(action: Callable[[], object], count: int) -> list[float]:
    action()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def preprocessing(repeats: int, rounds: int) -> bool:
    import mxnet as mx
    import numpy as np

    from service_sdk.utils import image as imaging

    data = asset("kitten.jpg").read_bytes()

    def stock() -> np.ndarray:
        picture = mx.image.imresize(mx.image.imdecode(data), SIZE, SIZE)
        return mx.nd.transpose(picture, (2, 0, 1)).expand_dims(0).astype("float32").asnumpy()

    def sdk() -> np.ndarray:
        picture = imaging.read_image(data, "RGB", (SIZE, SIZE))
        return imaging.to_tensor(imaging.fit(picture, (SIZE, SIZE)), 1 / 255)[None]

    assert stock().shape == sdk().shape == (1, 3, SIZE, SIZE)
    medians: dict[str, list[float]] = {"mx.image.imdecode + imresize": [], "SDK vision path": []}
    fastest: dict[str, float] = {label: float("inf") for label in medians}
    for _ in range(rounds):  # alternated, so both see the same machine load
        for label, action in zip(medians, (stock, sdk)):
            times = best_times(action, repeats)
            medians[label].append(statistics.median(times))
            fastest[label] = min(fastest[label], *times)
    ratios = [a / b for a, b in zip(*medians.values())]
    print(f"\n== Preprocessing kitten.jpg (720x720) -> 1x3x224x224 float32, median of {repeats} per round, "
          f"{rounds} rounds; fastest single run")
    for label, values in medians.items():
        print(f"{label:<32}{spread(values, 1000, 2):>22} ms   fastest {fastest[label] * 1000:.2f} ms")
    ratio = statistics.median(ratios)
    least_disturbed = fastest["mx.image.imdecode + imresize"] / fastest["SDK vision path"]
    print(f"  speed-up = {spread(ratios, 1, 2)}x (fastest runs: {least_disturbed:.2f}x)   target >= 2.0   "
          f"{verdict(ratio >= 2.0)}")
    return ratio >= 2.0


# -- part 2: executor memory -----------------------------------------------------


def executor_memory(model_dir: Path) -> None:
    import numpy as np
    import psutil

    from service_sdk import Context
    from service_sdk.services import GluonVisionService, MXNetVisionService

    process = psutil.Process()
    print("\n== Memory per extra executor (ResNet-18, batch_size 8; RSS of this process)")
    for cls in (MXNetVisionService, GluonVisionService):
        before = process.memory_info().rss
        context = Context("resnet18", str(model_dir), {"model": {"modelName": "resnet18", "handler": "h"}}, 8)
        service = cls()
        service.handle(None, context)
        loaded = process.memory_info().rss
        steps = []
        for size in (1, 2, 4):
            service.run_batch([np.zeros((size, 3, SIZE, SIZE), dtype=np.float32)])
            now = process.memory_info().rss
            steps.append(f"+batch-{size}: {(now - loaded) / 2**20:+.1f} MB")
            loaded = now
        print(f"{cls.__name__:<20} batch-8 service loaded: {(process.memory_info().rss - before) / 2**20:.0f} MB "
              f"in total; {'; '.join(steps)}")
        del service


# -- part 3: the server ---------------------------------------------------------


@dataclass
class Config:
    label: str
    model: str
    url: str
    batch_size: int
    body: bytes
    content_type: str
    name: str = ""
    p50: list[float] = field(default_factory=list)
    p90: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def sequential(client: KeepAliveClient, config: Config, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.post(f"/predictions/{config.name}", config.body, config.content_type)
        latencies.append(time.perf_counter() - started)
        if answer.status != 200:
            raise SystemExit(f"{config.label}: HTTP {answer.status}: {answer.body[:300]!r}")
    return latencies


def concurrent(server: MMSServer, config: Config, clients: int, count: int) -> float:
    """Requests per second for ``count`` requests from ``clients`` threads, each with its connection."""
    remaining = [count]
    lock = threading.Lock()
    failures: list[str] = []

    def client_loop() -> None:
        with KeepAliveClient("127.0.0.1", server.inference_port) as client:
            while True:
                with lock:
                    if remaining[0] <= 0 or failures:
                        return
                    remaining[0] -= 1
                answer = client.post(f"/predictions/{config.name}", config.body, config.content_type)
                if answer.status != 200:
                    failures.append(f"HTTP {answer.status}: {answer.body[:300]!r}")

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{config.label}: {failures[0]}")
    return count / (time.perf_counter() - started)


def worker_cpu(server: MMSServer) -> float:
    total = 0.0
    for proc in server.worker_processes():
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except Exception:  # noqa: BLE001 - a worker may be restarting
            pass
    return total


def run_round(server: MMSServer, configs: list[Config], args: argparse.Namespace, round_index: int) -> None:
    shift = round_index % len(configs)
    for config in configs[shift:] + configs[:shift]:
        with KeepAliveClient("127.0.0.1", server.inference_port) as client:
            sequential(client, config, 3)  # warm: the first batch of a size binds its executor
            latencies = sequential(client, config, args.sequential)
        cuts = statistics.quantiles(latencies, n=10)
        config.p50.append(statistics.median(latencies))
        config.p90.append(cuts[8])
        cpu_before = worker_cpu(server)
        rate = concurrent(server, config, args.clients, args.concurrent)
        config.rate.append(rate)
        config.cpu.append((worker_cpu(server) - cpu_before) / args.concurrent)
        progress(f"  [round {round_index + 1}/{args.rounds}] {config.label:<28} p50 {config.p50[-1] * 1000:6.1f} ms "
                 f"p90 {config.p90[-1] * 1000:6.1f} ms  {args.clients} clients {rate:5.1f} req/s")


def server_table(configs: list[Config], args: argparse.Namespace) -> bool:
    print(f"\n== MMS 1.1.11, one worker each, max_batch_delay {args.max_batch_delay} ms; median (range) of "
          f"{args.rounds} rounds")
    print(f"{'configuration':<30}{'p50 ms':>20}{'p90 ms':>20}{f'{args.clients} clients req/s':>22}"
          f"{'worker CPU ms/req':>22}")
    for config in configs:
        print(f"{config.label:<30}{spread(config.p50, 1000):>20}{spread(config.p90, 1000):>20}"
              f"{spread(config.rate):>22}{spread(config.cpu, 1000):>22}")
    ok = True
    by = {(c.model, c.label.split()[-1] if c.label.startswith("SDK") else "stock"): c for c in configs}
    med = statistics.median
    for model in sorted({c.model for c in configs}):
        one, eight = by.get((model, "1")), by.get((model, "8"))
        if one and eight:
            limit = 1.2 * (med(one.p50) + args.max_batch_delay / 1000)
            met = med(eight.p50) <= limit
            ok &= met
            print(f"  {model}: batch-8 p50 {med(eight.p50) * 1000:.1f} ms vs 1.2x(batch-1 p50 + delay) = "
                  f"{limit * 1000:.1f} ms: ratio {med(eight.p50) / limit:.2f}, target <= 1.0   {verdict(met)}")
            ratio = med(eight.rate) / med(one.rate)
            print(f"  {model}: batch-8 / batch-1 throughput = {ratio:.2f} (same run)")
        stock = by.get((model, "stock"))
        if one and stock:
            rate, p50 = med(one.rate) / med(stock.rate), med(one.p50) / med(stock.p50)
            ok &= rate >= 1.0 and p50 <= 1.0
            print(f"  {model}: SDK batch-1 / stock throughput = {rate:.2f}, target >= 1.0   {verdict(rate >= 1.0)}")
            print(f"  {model}: SDK batch-1 / stock p50 = {p50:.2f}, target <= 1.0   {verdict(p50 <= 1.0)}")
            best = max((c for c in configs if c.model == model and c.label.startswith("SDK") and c.batch_size > 1),
                       key=lambda c: med(c.rate), default=None)
            if best:
                ratio = med(best.rate) / med(stock.rate)
                ok &= ratio >= 1.5
                print(f"  {model}: SDK {best.label.split(' ', 1)[1]} / stock throughput = {ratio:.2f}, target >= 1.5   "
                      f"{verdict(ratio >= 1.5)}")
        if model == "resnet18" and eight:
            met = med(eight.rate) >= BEFORE_B8_RATE
            ok &= met
            print(f"  {model}: batch-8 throughput {med(eight.rate):.1f} req/s vs {BEFORE_B8_RATE} before (issue 14, "
                  f"another day's load), target >= 1.0x: {med(eight.rate) / BEFORE_B8_RATE:.2f}   {verdict(met)}")
    return ok


def build_configs(work: Path, models: list[str], stock_dir: Optional[Path]) -> list[Config]:
    configs = []
    if "resnet18" in models:
        progress("exporting ResNet-18 (random weights) and building its archives...")
        resnet = export_resnet18(work / "resnet18")
        sdk = archive(resnet, {"service.py": SDK_HANDLER}, [], "service:handle", work)
        written, copied, handler = stock_template_files(stock_dir)
        stock = archive(resnet, written, copied, handler, work)
        kitten = asset("kitten.jpg").read_bytes()
        label = "stock MMS template" if stock_dir else "stock MMS vision service"
        configs.append(Config(label, "resnet18", str(stock), 1, kitten, "image/jpeg"))
        configs += [Config(f"SDK resnet18 batch {b}", "resnet18", str(sdk), b, kitten, "image/jpeg")
                    for b in BATCH_SIZES]
    if "digits" in models:
        from demo import build
        from make_inputs import write_inputs

        progress("building the digits example archive...")
        digits = build(work / "digits-archive")
        labels = write_inputs(work / "digits-inputs")
        body = (work / "digits-inputs" / next(iter(labels))).read_bytes()
        configs += [Config(f"SDK digits batch {b}", "digits", str(digits), b, body, "image/png") for b in BATCH_SIZES]
    return configs


def serve_all(configs: list[Config], args: argparse.Namespace, work: Path) -> bool:
    with running_server(work / "mms", env=importable_by_workers("service_sdk", "model_archiver")) as server:
        for index, config in enumerate(configs):
            config.name = f"bench{index}"
            url = server.add_archive(Path(config.url))
            response = server.register(url, model_name=config.name, batch_size=config.batch_size,
                                       max_batch_delay=args.max_batch_delay, initial_workers=1)
            if response.status != 200:
                raise SystemExit(server.explain(response))
            progress(f"registered {config.label} as {config.name}")
        for round_index in range(args.rounds):
            run_round(server, configs, args, round_index)
    return server_table(configs, args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every configuration")
    parser.add_argument("--sequential", type=int, default=30, help="sequential requests per configuration per round")
    parser.add_argument("--concurrent", type=int, default=160, help="concurrent requests per configuration per round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-batch-delay", type=int, default=20, help="MMS max_batch_delay (ms)")
    parser.add_argument("--models", default="resnet18,digits", help="comma-separated: resnet18, digits")
    parser.add_argument("--stock-template", type=Path,
                        help="multi-model-server's examples/model_service_template folder (default: the installed "
                             "mms package's own vision service)")
    parser.add_argument("--skip-server", action="store_true", help="only preprocessing and executor memory")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    ok = preprocessing(repeats=50, rounds=5)
    with tempfile.TemporaryDirectory(prefix="bench-batching-") as scratch:
        work = Path(scratch)
        if "resnet18" in models:
            executor_memory(export_resnet18(work / "memory" / "resnet18"))
        if not args.skip_server:
            ok &= serve_all(build_configs(work, models, args.stock_template), args, work)
    if not ok:
        print("\nsome targets were MISSED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
