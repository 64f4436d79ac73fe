"""A real, small MXNet model for tests: a Gluon CNN trained on scikit-learn's digits.

scikit-learn ships the 8x8 digits data set, so nothing is downloaded. Training
takes a few seconds on two cores and reaches ~98% on the held-out split, which
makes prediction checks meaningful (random weights would pass anything).
Images are scaled to [0, 1] from the data set's 0..16 levels; `render_png`
writes the same pixels as an 8x8 greyscale PNG, so a vision service decoding
the PNG sees (up to rounding) the tensor the network was trained on.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_NAME = "data"
SEED = 7


@dataclass(frozen=True)
class DigitsSplit:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split() -> DigitsSplit:
    """The digits as float32 NCHW in [0, 1], split 80/20 with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[:, None, :, :]
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
    return DigitsSplit(x_train, y_train, x_test, y_test)


def build_net():
    """Conv+BatchNorm layers so the checkpoint carries aux (running) statistics."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(16, kernel_size=3, padding=1),
        nn.BatchNorm(),
        nn.Activation("relu"),
        nn.Conv2D(32, kernel_size=3, padding=1),
        nn.BatchNorm(),
        nn.Activation("relu"),
        nn.MaxPool2D(pool_size=2),
        nn.Flatten(),
        nn.Dense(64, activation="relu"),
        nn.Dense(10),
    )
    return net


def train(epochs: int = 12, batch_size: int = 32):
    """Train and return ``(net, split)``; deterministic for a given MXNet build."""
    import mxnet as mx
    from mxnet import autograd, gluon

    mx.random.seed(SEED)
    np.random.seed(SEED)
    split = load_split()
    net = build_net()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.003})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    data = gluon.data.ArrayDataset(mx.nd.array(split.x_train), mx.nd.array(split.y_train))
    loader = gluon.data.DataLoader(data, batch_size=batch_size, shuffle=True)
    for _ in range(epochs):
        for xb, yb in loader:
            with autograd.record():
                loss = loss_fn(net(xb), yb)
            loss.backward()
            trainer.step(xb.shape[0])
    return net, split


def accuracy(net, x: np.ndarray, y: np.ndarray) -> float:
    import mxnet as mx

    logits = net(mx.nd.array(x)).asnumpy()
    return float((logits.argmax(axis=1) == y).mean())


def output_name(symbol_file: Path) -> str:
    """The name of the graph's single head (what MXNet calls the output)."""
    graph = json.loads(symbol_file.read_text())
    return graph["nodes"][graph["heads"][0][0]]["name"]


def signature(output: str, batch: int = 0) -> dict:
    return {
        "inputs": [{"data_name": INPUT_NAME, "data_shape": [batch, 1, 8, 8]}],
        "input_type": "image/png",
        "outputs": [{"data_name": output, "data_shape": [batch, 10]}],
        "output_type": "application/json",
    }


def export_model_dir(net, model_dir: Path, model_name: str) -> Path:
    """Write ``NAME-symbol.json``, ``NAME-0000.params``, ``signature.json`` and ``synset.txt``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    net.export(str(model_dir / model_name), epoch=0)
    output = output_name(model_dir / f"{model_name}-symbol.json")
    (model_dir / "signature.json").write_text(json.dumps(signature(output), indent=2))
    (model_dir / "synset.txt").write_text("".join(f"digit {i}\n" for i in range(10)))
    return model_dir


def render_png(image: np.ndarray) -> bytes:
    """An 8x8 greyscale PNG of one ``(1, 8, 8)`` [0, 1] digit."""
    from PIL import Image

    pixels = np.clip(np.rint(image[0] * 255.0), 0, 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
