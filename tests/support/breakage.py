"""Break real exported model dirs in the ways users do, and read validation results.

Every edit goes through the real formats: JSON files are rewritten with
``json``, params files with MXNet's own ``mx.nd.load``/``mx.nd.save``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

from model_archiver.sources import MappingSource
from model_archiver.validation import Problem, validate_source

HANDLER_FILE = "service.py"
HANDLER_SOURCE = "def handle(data, context):\n    return data\n"
ZOO_NAME = "resnet18"


def add_handler(model_dir: Path, source: str = HANDLER_SOURCE, name: str = HANDLER_FILE) -> Path:
    (model_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (model_dir / name).write_text(source)
    return model_dir


def source_of(model_dir: Path) -> MappingSource:
    """Every file under ``model_dir`` by its posix name (what a build would archive here)."""
    return MappingSource({p.relative_to(model_dir).as_posix(): p for p in model_dir.rglob("*") if p.is_file()})


def validate(model_dir: Path, model_name: str, handler: str = "service", **options: Any) -> list[Problem]:
    return validate_source(source_of(model_dir), model_name=model_name, handler=handler, **options)


def with_code(problems: Iterable[Problem], code: str) -> list[Problem]:
    return [p for p in problems if p.code == code]


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Load ``path``, let ``change`` mutate the document in place, write it back."""
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def edit_params(path: Path, change: Callable[[dict], Any]) -> None:
    """Load with MXNet, let ``change`` mutate the name -> NDArray dict, save with MXNet."""
    import mxnet as mx

    arrays = mx.nd.load(str(path))
    change(arrays)
    mx.nd.save(str(path), arrays)


def export_zoo_dir(model_dir: Path, model_name: str = ZOO_NAME) -> Path:
    """ResNet-18 v1 from Gluon's model zoo with RANDOM weights (no pretrained weights offline)."""
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    mx.random.seed(3)
    net = vision.resnet18_v1(classes=1000)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    model_dir.mkdir(parents=True, exist_ok=True)
    net.export(str(model_dir / model_name), epoch=0)
    graph = json.loads((model_dir / f"{model_name}-symbol.json").read_text())
    output = graph["nodes"][graph["heads"][0][0]]["name"]
    signature = {
        "inputs": [{"data_name": "data", "data_shape": [0, 3, 224, 224]}],
        "input_type": "image/jpeg",
        "outputs": [{"data_name": output, "data_shape": [0, 1000]}],
        "output_type": "application/json",
    }
    (model_dir / "signature.json").write_text(json.dumps(signature, indent=2))
    (model_dir / "synset.txt").write_text("".join(f"n{i:08d} class {i}\n" for i in range(1000)))
    return model_dir
