"""INT8 quantization of the real digits CNN: ``quantize``, ``build --quantize int8`` and the accuracy gate.

The model is trained for real (tests/support/digits.py), calibrated on PNGs of
training digits decoded by the example's own vision handler, and judged on
the 360 held-out digits, which it never saw. Accuracies are measured here
with MXNet on the original float pixels, independently of the figures the
tool reports.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.support import digits

pytestmark = pytest.mark.slow  # every test runs MXNet in the quantization subprocess

EXE = [sys.executable, "-m", "model_archiver"]
HANDLER = digits.EXAMPLE / "model" / "digits_service.py"


def run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=300)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_pngs(folder: Path, images: np.ndarray, labels: np.ndarray | None = None) -> Path:
    folder.mkdir(parents=True)
    names = {}
    for index, image in enumerate(images):
        name = f"{index:04d}.png"
        (folder / name).write_bytes(digits.render_png(image))
        if labels is not None:
            names[name] = int(labels[index])
    if labels is not None:
        (folder / "labels.json").write_text(json.dumps(names))
    return folder


@pytest.fixture(scope="module")
def model_dir(trained_digits, tmp_path_factory) -> Path:
    """The trained CNN exported with the example's handler: never modified by the tests."""
    net, _ = trained_digits
    folder = digits.export_model_dir(net, tmp_path_factory.mktemp("digits-fp32"), "digits")
    shutil.copy(HANDLER, folder / HANDLER.name)
    return folder


@pytest.fixture(scope="module")
def calibration_pngs(trained_digits, tmp_path_factory) -> Path:
    _, split = trained_digits
    return write_pngs(tmp_path_factory.mktemp("calib") / "pngs", split.x_train[:64])


@pytest.fixture(scope="module")
def held_out_pngs(trained_digits, tmp_path_factory) -> Path:
    _, split = trained_digits
    return write_pngs(tmp_path_factory.mktemp("eval") / "pngs", split.x_test, split.y_test)


def float_accuracy(model_folder: Path, split) -> float:
    """Held-out accuracy of a checkpoint with MXNet alone, on the float test pixels."""
    import mxnet as mx

    symbol, args, auxs = mx.model.load_checkpoint(str(model_folder / "digits"), 0)
    module = mx.mod.Module(symbol, data_names=["data"], label_names=None)
    module.bind(for_training=False, data_shapes=[("data", split.x_test.shape)])
    module.set_params(args, auxs)
    module.forward(mx.io.DataBatch([mx.nd.array(split.x_test)]), is_train=False)
    return float((module.get_outputs()[0].asnumpy().argmax(axis=1) == split.y_test).mean())


def quantized_ops(symbol_file: Path) -> list[str]:
    graph = json.loads(symbol_file.read_text())
    return [n["name"] for n in graph["nodes"] if n["name"].startswith("quantized_") or n["op"] == "_contrib_quantize_v2"]


def test_quantize_keeps_held_out_accuracy_within_one_point(model_dir, calibration_pngs, held_out_pngs,
                                                           trained_digits, tmp_path):
    _, split = trained_digits
    before = snapshot(model_dir)
    out = tmp_path / "int8"
    proc = run("quantize", model_dir, "--handler", "digits_service:handle", "--calibration", calibration_pngs,
               "--eval", held_out_pngs, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(model_dir) == before
    assert {"digits-symbol.json", "digits-0000.params", "signature.json", "synset.txt", "digits_service.py",
            "quantization.json"} == {p.name for p in out.iterdir()}
    assert quantized_ops(out / "digits-symbol.json")
    assert (out / "digits-0000.params").stat().st_size < (model_dir / "digits-0000.params").stat().st_size

    fp32, int8 = float_accuracy(model_dir, split), float_accuracy(out, split)
    assert fp32 >= 0.95
    assert fp32 - int8 <= 0.01
    report = json.loads((out / "quantization.json").read_text())
    assert report["eval_count"] == len(split.y_test)
    assert report["top1_agreement"] >= 99.0
    # PNGs round pixels to 1/255: the tool's figures on PNGs stay within two images of MXNet's on floats.
    assert abs(report["fp32_accuracy"] - fp32 * 100) <= 200 / len(split.y_test)
    kept = report["fp32_kept"]
    assert any("first convolution: conv0_fwd" in why for why in kept.values())
    assert any("last dense layer: dense1_fwd" in why for why in kept.values())
    assert "gate passed: top-1 agreement" in proc.stdout and "kept FP32:" in proc.stdout

    validate = run("validate", out, "--model-name", "digits", "--handler", "digits_service:handle", "--check-shapes")
    assert validate.returncode == 0, validate.stderr


def test_gate_fails_a_bad_quantization_with_its_figures_and_writes_nothing(model_dir, held_out_pngs, tmp_path):
    constant = tmp_path / "constant.npy"
    np.save(constant, np.zeros((32, 1, 8, 8), dtype=np.float32))
    out = tmp_path / "out" / "int8"
    proc = run("quantize", model_dir, "--calibration", constant, "--no-default-exclusions",
               "--eval", held_out_pngs, "--out", out)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("model-archiver: error: INT8 accuracy gate failed")
    agreement = float(lines[0].split("top-1 agreement ")[1].split("%")[0])
    assert agreement < 99.0
    assert "max abs diff" in lines[0] and "accuracy FP32" in lines[0]
    assert not (tmp_path / "out").exists()  # not even the parent of --out


def test_build_quantize_int8_archives_int8_and_records_the_figures(model_dir, calibration_pngs, tmp_path):
    before = snapshot(model_dir)
    proc = run("build", "--model-name", "digits", "--model-path", model_dir, "--handler", "digits_service:handle",
               "--export-path", tmp_path, "--quantize", "int8", "--calibration", calibration_pngs,
               "--calib-count", 40, "--calib-mode", "entropy", "--exclude-layers", "dense0*", "--strict")
    assert proc.returncode == 0, proc.stderr  # --strict: int8 weights of quantized ops are no warning
    assert snapshot(model_dir) == before
    archive = tmp_path / "digits.mar"
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("MAR-INF/MANIFEST.json"))
        symbol = json.loads(zf.read("digits-symbol.json"))
        signature = json.loads(zf.read("signature.json"))
    figures = manifest["model"]["extensions"]["quantization"]
    assert figures["calibration_count"] == 40 and figures["calib_mode"] == "entropy"
    assert figures["eval_count"] == 13  # no --eval: 20% of the 64 PNGs held out, never calibrated on
    assert any("--exclude-layers dense0*" == why for why in figures["fp32_kept"].values())
    heads = [symbol["nodes"][h[0]]["name"] for h in symbol["heads"]]
    assert signature["outputs"][0]["data_name"] == heads[0]
    assert any(n["name"].startswith("quantized_") for n in symbol["nodes"])

    shown = run("inspect", archive)
    assert "int8:     entropy calibration on 40 inputs; top-1 agreement" in shown.stdout


def test_build_gate_failure_leaves_no_archive(model_dir, held_out_pngs, tmp_path):
    constant = tmp_path / "constant.npy"
    np.save(constant, np.zeros((16, 1, 8, 8), dtype=np.float32))
    out = tmp_path / "export"
    proc = run("build", "--model-name", "digits", "--model-path", model_dir, "--handler", "digits_service:handle",
               "--export-path", out, "--quantize", "int8", "--calibration", constant, "--no-default-exclusions",
               "--eval", held_out_pngs)
    assert proc.returncode == 3, proc.stderr
    assert "INT8 accuracy gate failed" in proc.stderr
    assert not out.exists()  # not even the export folder


@pytest.mark.parametrize("args, message", [
    (["--calibration", "CALIB"], "only apply with --quantize int8"),
    (["--quantize", "int8"], "--quantize int8 needs --calibration"),
])
def test_build_quantize_usage_errors(model_dir, calibration_pngs, tmp_path, args, message):
    args = [calibration_pngs if a == "CALIB" else a for a in args]
    proc = run("build", "--model-name", "digits", "--model-path", model_dir, "--handler", "digits_service:handle",
               "--export-path", tmp_path, *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_layer_pattern_is_a_usage_error(model_dir, calibration_pngs, tmp_path):
    proc = run("quantize", model_dir, "--calibration", calibration_pngs, "--exclude-layers", "nosuchlayer*",
               "--out", tmp_path / "int8")
    assert proc.returncode == 2
    assert "'nosuchlayer*' matches no layer" in proc.stderr
    assert not (tmp_path / "int8").exists()


@pytest.fixture(scope="module")
def deconv_dir(tmp_path_factory) -> Path:
    """A small net with a transposed convolution, which MXNet 1.9.1's oneDNN cannot quantize."""
    import mxnet as mx
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1), nn.Activation("relu"), nn.Conv2DTranspose(4, 3, padding=1),
            nn.Activation("relu"), nn.Conv2D(4, 3, padding=1), nn.Flatten(), nn.Dense(10))
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 1, 8, 8)))
    folder = tmp_path_factory.mktemp("deconv")
    net.export(str(folder / "deconv"), 0)
    graph = json.loads((folder / "deconv-symbol.json").read_text())
    head = graph["nodes"][graph["heads"][0][0]]["name"]
    (folder / "signature.json").write_text(json.dumps({"inputs": [{"data_name": "data", "data_shape": [0, 1, 8, 8]}],
                                                       "outputs": [{"data_name": head, "data_shape": [0, 10]}]}))
    np.save(folder.parent / "deconv-calib.npy", np.random.RandomState(0).rand(20, 1, 8, 8).astype(np.float32))
    return folder


def test_a_layer_that_cannot_be_quantized_is_refused_by_name(deconv_dir, tmp_path):
    calib = deconv_dir.parent / "deconv-calib.npy"
    proc = run("quantize", deconv_dir, "--calibration", calib, "--out", tmp_path / "int8")
    assert proc.returncode == 5, proc.stderr
    assert "cannot quantize 1 layer(s)" in proc.stderr and "(Deconvolution)" in proc.stderr
    assert not (tmp_path / "int8").exists()

    layer = proc.stderr.split("--exclude-layers ")[-1].strip()
    kept = run("quantize", deconv_dir, "--calibration", calib, "--exclude-layers", layer, "--min-agreement", 0,
               "--out", tmp_path / "int8", "--json")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["quantization"]["fp32_kept"][layer] == f"--exclude-layers {layer}"


def test_folder_per_class_and_csv_labels(tmp_path, trained_digits):
    from model_archiver.quantization.calibration import label_indices, list_inputs, split

    _, data = trained_digits
    for index in range(6):
        label = int(data.y_test[index])
        (tmp_path / "classes" / str(label)).mkdir(parents=True, exist_ok=True)
        (tmp_path / "classes" / str(label) / f"{index}.png").write_bytes(digits.render_png(data.x_test[index]))
    by_folder = list_inputs(tmp_path / "classes")
    assert len(by_folder) == 6
    assert sorted(by_folder.labels) == sorted(str(int(y)) for y in data.y_test[:6])
    assert label_indices(by_folder.labels, [str(d) for d in range(10)]).tolist() == [int(x) for x in by_folder.labels]

    flat = write_pngs(tmp_path / "flat", data.x_test[:5])
    (flat / "labels.csv").write_text("file,label\n" + "".join(f"{i:04d}.png,{int(data.y_test[i])}\n" for i in range(5)))
    by_csv = list_inputs(flat)
    assert by_csv.labels == tuple(str(int(y)) for y in data.y_test[:5])
    calib, held = split(by_csv)
    assert len(held) == 1 and len(calib) == 4 and not set(calib.files) & set(held.files)


def test_gate_thresholds_on_known_outputs():
    from model_archiver.errors import ValidationFailed
    from model_archiver.quantization.gate import check, measure

    labels = np.arange(100) % 10
    fp32 = np.eye(10, dtype=np.float32)[labels]  # every answer right
    int8 = fp32.copy()
    int8[:2] = np.roll(int8[:2], 1, axis=1)  # two answers moved to the wrong class
    figures = measure(fp32, int8, labels)
    assert (figures.top1_agreement, figures.fp32_accuracy, figures.int8_accuracy) == (98.0, 100.0, 98.0)
    assert figures.max_abs_diff == 1.0 and figures.mean_abs_diff == pytest.approx(4 / 1000)
    with pytest.raises(ValidationFailed, match="agreement below --min-agreement 99%"):
        check(figures, min_agreement=99.0, max_accuracy_drop=5.0)
    with pytest.raises(ValidationFailed, match="accuracy drop above --max-accuracy-drop 1 points"):
        check(figures, min_agreement=97.0, max_accuracy_drop=1.0)
    check(figures, min_agreement=97.0, max_accuracy_drop=2.0)
    check(measure(fp32, int8), min_agreement=98.0, max_accuracy_drop=0.0)  # no labels: agreement only
