"""The digits example's real model, for tests: one source of truth, in examples/digits.

A Gluon CNN trained on scikit-learn's bundled 8x8 digits (nothing is
downloaded) in a few seconds to ~99% held-out accuracy, which makes
prediction checks meaningful where random weights would pass anything. The
example's own data and training modules are loaded by path (example folders
are not packages), so tests exercise exactly what users run.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits"


def _load(stem: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"digits_example_{stem}", EXAMPLE / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_data = _load("digits_data")
_training = _load("train")

INPUT_NAME = _training.INPUT_NAME
DigitsSplit = _data.DigitsSplit
load_split = _data.load_split
render_png = _data.render_png
build_net = _training.build_net


def train(epochs: int = 12):
    """``(net, split)``: the example's CNN trained on the example's split."""
    split = load_split()
    return _training.train(split, epochs), split


def output_name(symbol_file: Path) -> str:
    """The name of the graph's single head (what MXNet calls the output)."""
    graph = json.loads(symbol_file.read_text())
    return graph["nodes"][graph["heads"][0][0]]["name"]


def export_model_dir(net, model_dir: Path, model_name: str) -> Path:
    """Write ``NAME-symbol.json``, ``NAME-0000.params``, ``signature.json`` and ``synset.txt``."""
    _training.export(net, model_dir, model_name)
    return model_dir
