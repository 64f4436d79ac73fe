"""Export a trained CNN to ONNX, build an archive from it with ``-c``, and predict.

    python examples/onnx/demo.py [--out build/onnx-demo] [--count 4]

1. exports the digits CNN shipped in ``examples/digits/model`` (real trained
   weights, nothing downloaded) to ``OUT/model/digits.onnx`` with
   ``mxnet.onnx.export_model``, next to this example's handler and the synset;
2. runs ``model-archiver --model-name digits --model-path OUT/model
   --handler digits_onnx_service:handle --export-path OUT -c -f``: the ONNX graph
   is sanitized, converted to an MXNet checkpoint in a child process, checked
   against onnxruntime, and archived without the ``.onnx`` (OUT/model is not
   modified);
3. renders held-out digits as PNGs and runs them through the archive with
   ``model-archiver run`` (the handler loaded as an MMS worker loads it).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIGITS = HERE.parent / "digits"
sys.path.insert(0, str(DIGITS))

from make_inputs import write_inputs  # noqa: E402

MODEL_NAME = "digits"
HANDLER = "digits_onnx_service:handle"


def export_onnx(model_dir: Path) -> Path:
    """Write ``model_dir/digits.onnx`` from the shipped MXNet checkpoint (dynamic batch)."""
    import numpy as np
    import mxnet.onnx

    checkpoint = DIGITS / "model"
    return Path(mxnet.onnx.export_model(
        str(checkpoint / "digits-symbol.json"), str(checkpoint / "digits-0000.params"),
        [(1, 1, 8, 8)], [np.float32], str(model_dir / "digits.onnx"),
        dynamic=True, dynamic_input_shapes=[(None, 1, 8, 8)],
    ))


def model_archiver(*args: str) -> None:
    """Run the CLI as a user would, through this interpreter (works from a source checkout too)."""
    command = [sys.executable, "-c", "from model_archiver.cli import main; main()", *args]
    print("$ model-archiver " + " ".join(args), flush=True)
    subprocess.run(command, check=True)


def build(out: Path) -> Path:
    """Export the ONNX file into ``out/model`` and build ``out/digits.mar`` from it with ``-c``."""
    model_dir = out / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir(parents=True)
    shutil.copy(HERE / "model" / "digits_onnx_service.py", model_dir)
    shutil.copy(DIGITS / "model" / "synset.txt", model_dir)
    # model-archiver.toml carries the same settings plus the serving ones; the flags below are what it says.
    shutil.copy(HERE / "model" / "model-archiver.toml", model_dir)
    print(f"exported {export_onnx(model_dir)}")
    model_archiver("--model-name", MODEL_NAME, "--model-path", str(model_dir), "--handler", HANDLER,
                   "--export-path", str(out), "--input-type", "image/png", "-c", "-f")
    return out / f"{MODEL_NAME}.mar"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build") / "onnx-demo")
    parser.add_argument("--count", type=int, default=4, help="held-out digits to predict")
    args = parser.parse_args()
    try:
        archive = build(args.out)
        labels = write_inputs(args.out / "inputs", args.count)
        inputs = [arg for name in labels for arg in ("--input", str(args.out / "inputs" / name))]
        model_archiver("run", str(archive), *inputs)
    except subprocess.CalledProcessError as error:
        return error.returncode
    print("expected labels: " + ", ".join(f"{name}={label}" for name, label in labels.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
