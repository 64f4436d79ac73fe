"""Export a ResNet-152 with RANDOM weights as an MXNet checkpoint, ready to archive.

    python examples/resnet-152-eia/export_model.py OUT_DIR

Writes ``resnet-152-symbol.json`` and ``resnet-152-0000.params`` (about 230 MB)
into OUT_DIR and copies the example's handler, ``signature.json`` and
``synset.txt`` next to them, so OUT_DIR is a complete model directory.

The weights are random (a seeded Xavier initialisation): this machine cannot
download ImageNet weights, so the predictions are meaningless, although the
graph, the shapes and the serving path are exactly those of the real model.
With network access, ``resnet152_v1(pretrained=True)`` exports the real
weights through the same code. The params are not committed because of
their size; exporting takes a few seconds.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

MODEL_NAME = "resnet-152"
SEED = 0
SHIPPED = ("resnet_152_service.py", "signature.json", "synset.txt", "model-archiver.toml")
SOURCE_DIR = Path(__file__).resolve().parent / "model"


def export_model(out: Path, seed: int = SEED) -> Path:
    """Export the random-weight network and the shipped files into ``out``; return ``out``."""
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    out.mkdir(parents=True, exist_ok=True)
    mx.random.seed(seed)
    # A fixed prefix keeps the layer names (and signature.json's output name) stable.
    net = vision.resnet152_v1(pretrained=False, prefix="resnet152_")
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 224, 224)))  # a forward pass builds the graph to export
    net.export(str(out / MODEL_NAME), epoch=0)
    for name in SHIPPED:
        shutil.copy2(SOURCE_DIR / name, out / name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    export_model(args.out)
    print(f"exported {MODEL_NAME} (random weights) to {args.out}")


if __name__ == "__main__":
    main()
