"""Train the digits CNN and write its MXNet checkpoint into ``model/``.

    python examples/digits/train.py [--epochs 12] [--out examples/digits/model]

The repository already ships the result (about 150 KB), so the demo needs no
training; run this to see where the checkpoint comes from or to retrain. It
writes ``digits-symbol.json``, ``digits-0000.params``, ``signature.json`` and
``synset.txt`` next to the handler, and prints the held-out accuracy.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from digits_data import SEED, load_split  # noqa: E402

MODEL_NAME = "digits"
INPUT_NAME = "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "model"


def build_net():
    """Two conv+BatchNorm blocks and two dense layers; BatchNorm makes aux params."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(16, kernel_size=3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
        nn.Conv2D(32, kernel_size=3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
        nn.MaxPool2D(pool_size=2), nn.Flatten(),
        nn.Dense(64, activation="relu"), nn.Dense(10),
    )
    return net


def train(split, epochs: int, batch_size: int = 32):
    import mxnet as mx
    from mxnet import autograd, gluon

    mx.random.seed(SEED)
    np.random.seed(SEED)
    net = build_net()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.003})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    data = gluon.data.ArrayDataset(mx.nd.array(split.x_train), mx.nd.array(split.y_train))
    for _ in range(epochs):
        for xb, yb in gluon.data.DataLoader(data, batch_size=batch_size, shuffle=True):
            with autograd.record():
                loss = loss_fn(net(xb), yb)
            loss.backward()
            trainer.step(xb.shape[0])
    return net


def held_out_accuracy(net, split) -> float:
    import mxnet as mx

    predictions = net(mx.nd.array(split.x_test)).asnumpy().argmax(axis=1)
    return float((predictions == split.y_test).mean())


def export(net, out: Path, model_name: str = MODEL_NAME) -> None:
    """Checkpoint plus the signature (shapes, batch dim 0 = any) and synset the service reads."""
    out.mkdir(parents=True, exist_ok=True)
    net.export(str(out / model_name), epoch=0)
    graph = json.loads((out / f"{model_name}-symbol.json").read_text())
    output = graph["nodes"][graph["heads"][0][0]]["name"]
    signature = {
        "inputs": [{"data_name": INPUT_NAME, "data_shape": [0, 1, 8, 8]}],
        "input_type": "image/png",
        "outputs": [{"data_name": output, "data_shape": [0, 10]}],
        "output_type": "application/json",
    }
    (out / "signature.json").write_text(json.dumps(signature, indent=2) + "\n")
    (out / "synset.txt").write_text("".join(f"{digit}\n" for digit in range(10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    split = load_split()
    net = train(split, args.epochs)
    export(net, args.out)
    print(f"held-out accuracy {held_out_accuracy(net, split):.4f} on {len(split.y_test)} images")
    print(f"checkpoint written to {args.out}")


if __name__ == "__main__":
    main()
