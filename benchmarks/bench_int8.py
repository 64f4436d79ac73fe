"""FP32 vs INT8 (oneDNN) side by side: forward latency, served requests/s, $ per 100k requests, agreement.

    python benchmarks/bench_int8.py [--models resnet18,resnet152,digits] [--hourly-price 0.096]
                                    [--duration 8] [--out build/bench-int8]

For each model the FP32 checkpoint is quantized with ``model-archiver``'s own
library (naive calibration, default FP32 exclusions), then measured in this
one run:

* forward latency of a bound ``mx.mod.Module`` at batch 1 and 8 with 1 and 2
  OMP threads (each setting in a fresh process, since OMP_NUM_THREADS is read
  once), median and min-max of a few timed passes;
* requests/s through one real MMS (tests/support/mms.py), one worker,
  ``batch_size=4``, 8 concurrent clients for ``--duration`` seconds, and the
  resulting dollars per 100,000 requests at ``--hourly-price``;
* the accuracy figures of the quantization gate.

ResNet-18 and ResNet-152 come from ``mxnet.gluon.model_zoo`` with RANDOM
WEIGHTS (nothing is downloaded, no ImageNet weights exist offline): their
speed is real, their "accuracy" is not. Their FP32/INT8 top-1 agreement is
measured on 200 crops and flips of real photos from ``shared/assets/images``
(calibration on other photos than the ones evaluated). The digits CNN is
trained for real (examples/digits) and its held-out accuracy is real.

The machine is shared and noisy: every INT8 figure is printed as a ratio to
the FP32 figure measured in the same run, and latencies as ranges.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model_archiver import build_archive  # noqa: E402
from model_archiver.quantization import QuantizeOptions, quantize_model_dir  # noqa: E402
from tests.support import digits  # noqa: E402
from tests.support.assets import images_dir  # noqa: E402
from tests.support.mms import importable_by_workers, running_server  # noqa: E402

RESNET_HANDLER = '''from service_sdk.services.vision import MXNetVisionService


class ImageNetService(MXNetVisionService):
    resize_mode = "center_crop"
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)


handle = ImageNetService.entry_point()
'''
BATCHES = (1, 8)
THREADS = (1, 2)
SERVE_BATCH = 4
CLIENTS = 8
AUGMENTED = 200
LATENCY_SCRIPT = r'''
import json, sys, time
import mxnet as mx, numpy as np
prefix, batch, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
shape = json.loads(sys.argv[4])
sym, args, auxs = mx.model.load_checkpoint(prefix, 0)
mod = mx.mod.Module(sym, data_names=["data"], label_names=None)
mod.bind(for_training=False, data_shapes=[("data", (batch, *shape))])
mod.set_params(args, auxs)
data = mx.io.DataBatch([mx.nd.array(np.random.RandomState(0).rand(batch, *shape).astype("float32"))])
def once():
    started = time.perf_counter(); mod.forward(data, is_train=False); mod.get_outputs()[0].wait_to_read()
    return time.perf_counter() - started
once(); once()
print(json.dumps([once() for _ in range(repeats)]))
'''


@dataclass
class ModelCase:
    name: str
    model_dir: Path
    calibration: Path
    eval_dir: Path
    bodies: list[bytes]
    content_type: str
    item_shape: tuple[int, ...]
    int8_dir: Path = Path()
    report: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)


# -- models -----------------------------------------------------------------------------------------


def resnet_case(name: str, work: Path, photos: list[Path]) -> ModelCase:
    """A model-zoo ResNet with random weights exported as a vision model folder, plus real-photo inputs."""
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    folder = work / name / "fp32"
    folder.mkdir(parents=True)
    mx.random.seed(0)
    net = vision.get_model(f"{name}_v1", pretrained=False)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    net.export(str(folder / name), epoch=0)
    graph = json.loads((folder / f"{name}-symbol.json").read_text())
    head = graph["nodes"][graph["heads"][0][0]]["name"]
    (folder / "signature.json").write_text(json.dumps({
        "inputs": [{"data_name": "data", "data_shape": [0, 3, 224, 224]}], "input_type": "image/jpeg",
        "outputs": [{"data_name": head, "data_shape": [0, 1000]}], "output_type": "application/json"}))
    (folder / "imagenet_service.py").write_text(RESNET_HANDLER)
    half = len(photos) // 2
    calibration = write_augmented(work / name / "calibration", photos[:half], 16, seed=1)
    eval_dir = write_augmented(work / name / "eval", photos[half:], AUGMENTED, seed=2)
    bodies = [p.read_bytes() for p in sorted(eval_dir.iterdir())[:32]]
    return ModelCase(name, folder, calibration, eval_dir, bodies, "image/jpeg", (3, 224, 224))


def write_augmented(folder: Path, photos: list[Path], count: int, seed: int) -> Path:
    """``count`` JPEGs: random crops (50-100% of the shorter side) of ``photos``, half of them flipped."""
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.RandomState(seed)
    for index in range(count):
        image = Image.open(photos[index % len(photos)]).convert("RGB")
        side = int(min(image.size) * rng.uniform(0.5, 1.0))
        left, top = rng.randint(0, image.width - side + 1), rng.randint(0, image.height - side + 1)
        crop = image.crop((left, top, left + side, top + side))
        if rng.rand() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        buffer = io.BytesIO()
        crop.save(buffer, format="JPEG", quality=90)
        (folder / f"{index:04d}.jpg").write_bytes(buffer.getvalue())
    return folder


def digits_case(work: Path) -> ModelCase:
    """The real digits CNN (shipped checkpoint), calibrated on training digits, judged on held-out ones."""
    folder = work / "digits" / "fp32"
    shutil.copytree(digits.EXAMPLE / "model", folder)
    split = digits.load_split()
    calibration = work / "digits" / "calibration"
    calibration.mkdir(parents=True)
    for index, image in enumerate(split.x_train[:64]):
        (calibration / f"{index:04d}.png").write_bytes(digits.render_png(image))
    eval_dir = work / "digits" / "eval"
    eval_dir.mkdir()
    labels = {}
    for index, image in enumerate(split.x_test):
        (eval_dir / f"{index:04d}.png").write_bytes(digits.render_png(image))
        labels[f"{index:04d}.png"] = int(split.y_test[index])
    (eval_dir / "labels.json").write_text(json.dumps(labels))
    bodies = [(eval_dir / name).read_bytes() for name in sorted(labels)]
    return ModelCase("digits", folder, calibration, eval_dir, bodies, "image/png", (1, 8, 8))


def handler_of(case: ModelCase) -> str:
    return "digits_service:handle" if case.name == "digits" else "imagenet_service:handle"


# -- measurements -----------------------------------------------------------------------------------


def quantize(case: ModelCase) -> None:
    started = time.perf_counter()
    options = QuantizeOptions(calibration=case.calibration, calib_count=16 if case.name != "digits" else 64,
                              eval_path=case.eval_dir, min_agreement=0.0, max_accuracy_drop=100.0)
    result = quantize_model_dir(case.model_dir, case.model_dir.parent / "int8", options,
                                handler=handler_of(case), model_name=case.name)
    case.int8_dir, case.report = result.path, result.report
    case.report["seconds"] = round(time.perf_counter() - started, 1)


def forward_times(prefix: Path, batch: int, threads: int, shape: tuple[int, ...], repeats: int) -> list[float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MXNET_ENGINE_TYPE": "NaiveEngine"}
    proc = subprocess.run([sys.executable, "-c", LATENCY_SCRIPT, str(prefix), str(batch), str(repeats),
                           json.dumps(list(shape))], capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"latency run failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def repeats_for(case: ModelCase, batch: int) -> int:
    return {"digits": 50, "resnet18": 8, "resnet152": 4}[case.name] // (2 if batch > 1 else 1)


def measure_latency(case: ModelCase) -> None:
    for batch in BATCHES:
        for threads in THREADS:
            for dtype, folder in (("fp32", case.model_dir), ("int8", case.int8_dir)):
                times = forward_times(folder / case.name, batch, threads, case.item_shape, repeats_for(case, batch))
                case.rows[(dtype, batch, threads)] = [t * 1000 for t in times]


def served_rps(server, name: str, bodies: list[bytes], content_type: str, duration: float) -> float:
    """Requests/s from CLIENTS concurrent clients posting for ``duration`` seconds (after a warm-up)."""
    deadline = [0.0]
    done = [0]

    def client(index: int) -> None:
        position = index
        while time.perf_counter() < deadline[0]:
            response = server.predict(name, bodies[position % len(bodies)], content_type)
            if response.status != 200:
                raise RuntimeError(server.explain(response))
            done[0] += 1
            position += CLIENTS

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        deadline[0] = time.perf_counter() + min(3.0, duration / 2)
        list(pool.map(client, range(CLIENTS)))
        done[0] = 0
        started = time.perf_counter()
        deadline[0] = started + duration
        list(pool.map(client, range(CLIENTS)))
        return done[0] / (time.perf_counter() - started)


def measure_served(cases: list[ModelCase], work: Path, duration: float) -> dict[tuple[str, str], float]:
    rates = {}
    with running_server(work / "mms", env=importable_by_workers("service_sdk")) as server:
        for case in cases:
            for dtype, folder in (("fp32", case.model_dir), ("int8", case.int8_dir)):
                archive = build_archive(folder, model_name=case.name, handler=handler_of(case),
                                        export_path=work / "archives" / dtype, validate=False).path
                stored = archive.rename(archive.with_name(f"{case.name}-{dtype}.mar"))
                name = server.serve(stored, model_name=f"{case.name}-{dtype}", batch_size=SERVE_BATCH,
                                    max_batch_delay=20)
                rates[(case.name, dtype)] = served_rps(server, name, case.bodies, case.content_type, duration)
                server.unregister(name)
    return rates


# -- report -----------------------------------------------------------------------------------------


def span(values: list[float]) -> str:
    digits_after = 1 if min(values) >= 10 else 3
    return f"{statistics.median(values):.{digits_after}f} ({min(values):.{digits_after}f}-{max(values):.{digits_after}f})"


def dollars(rps: float, hourly: float) -> float:
    return hourly / (rps * 3600.0) * 100_000


def report(cases: list[ModelCase], rates: dict, hourly: float) -> str:
    lines = ["| model | batch | OMP threads | FP32 ms median (range) | INT8 ms median (range) | "
             "speed-up (medians) | speed-up (best) |", "|---|---|---|---|---|---|---|"]
    for case in cases:
        for batch in BATCHES:
            for threads in THREADS:
                fp32, int8 = case.rows[("fp32", batch, threads)], case.rows[("int8", batch, threads)]
                lines.append(f"| {case.name} | {batch} | {threads} | {span(fp32)} | {span(int8)} | "
                             f"{statistics.median(fp32) / statistics.median(int8):.2f}x | "
                             f"{min(fp32) / min(int8):.2f}x |")
    lines += ["", f"| model | FP32 req/s | INT8 req/s | ratio | FP32 $/100k | INT8 $/100k (at ${hourly}/h) |",
              "|---|---|---|---|---|---|"]
    for case in cases:
        fp32, int8 = rates[(case.name, "fp32")], rates[(case.name, "int8")]
        lines.append(f"| {case.name} | {fp32:.1f} | {int8:.1f} | {int8 / fp32:.2f}x | "
                     f"{dollars(fp32, hourly):.4f} | {dollars(int8, hourly):.4f} |")
    lines += ["", "| model | gate inputs | top-1 agreement | max / mean abs diff | FP32 acc | INT8 acc | "
              "kept FP32 | quantize s |", "|---|---|---|---|---|---|---|---|"]
    for case in cases:
        r = case.report
        acc = (f"{r['fp32_accuracy']:.2f}%", f"{r['int8_accuracy']:.2f}%") if "fp32_accuracy" in r else ("-", "-")
        lines.append(f"| {case.name} | {r['eval_count']} | {r['top1_agreement']:.2f}% | "
                     f"{r['max_abs_diff']:.3g} / {r['mean_abs_diff']:.3g} | {acc[0]} | {acc[1]} | "
                     f"{len(r['fp32_kept'])} layers | {r['seconds']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,resnet152,digits")
    parser.add_argument("--hourly-price", type=float, default=0.096,
                        help="instance $/hour for the cost column (default: m5.large, as docs/cost-study.md)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per served model")
    parser.add_argument("--out", type=Path, help="also write the tables and raw numbers (JSON) here")
    args = parser.parse_args()
    photos = sorted(p for p in images_dir().iterdir() if p.suffix.lower() in (".jpg", ".png"))
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        work = Path(tmp)
        cases = []
        for name in args.models.split(","):
            case = digits_case(work) if name == "digits" else resnet_case(name, work, photos)
            quantize(case)
            print(f"{name}: quantized in {case.report['seconds']}s, agreement {case.report['top1_agreement']:.2f}% "
                  f"on {case.report['eval_count']}", flush=True)
            measure_latency(case)
            cases.append(case)
        rates = measure_served(cases, work, args.duration)
    table = report(cases, rates, args.hourly_price)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "table.md").write_text(table + "\n")
        raw = {c.name: {"latency_ms": {f"{d}-b{b}-t{t}": v for (d, b, t), v in c.rows.items()},
                        "served_rps": {d: rates[(c.name, d)] for d in ("fp32", "int8")}, "gate": c.report}
               for c in cases}
        (args.out / "raw.json").write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
