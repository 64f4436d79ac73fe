"""Handler scaffolds copied by ``model-archiver init`` (installed as ``model_archiver.templates``).

Each sub-folder is one template: ``model_handler.py`` (archive with
``--handler model_handler:handle``), a ``signature.json`` to edit and a
``README-service.md``. The scaffold imports ``service_sdk`` from the installed
package; build with ``--vendor-sdk`` for a stock MMS without it.
"""
from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from model_archiver.errors import OutputExistsError, UsageError

HANDLER = "model_handler:handle"
TEMPLATES = {
    "vision": "image classification over an MXNet checkpoint (Pillow decoding, top-k labels)",
    "mxnet": "any MXNet checkpoint driven by signature.json (JSON or .npy tensors in and out)",
    "gluon": "a Gluon HybridBlock or SymbolBlock",
    "custom": "a bare ModelService: your own preprocess, inference and postprocess",
}


def template_files(name: str) -> list[tuple[str, Traversable]]:
    """``(file name, resource)`` of every file of template ``name``."""
    if name not in TEMPLATES:
        raise UsageError(f"unknown template {name!r}: choose one of {', '.join(TEMPLATES)}")
    folder = resources.files(__name__).joinpath(name)
    return sorted((entry.name, entry) for entry in folder.iterdir()
                  if entry.is_file() and not entry.name.endswith(".pyc"))


def copy_template(name: str, dest: Path) -> list[Path]:
    """Copy template ``name`` into ``dest`` (created if needed); never overwrites a file.

    Nothing is written if any target exists, so a refused ``init`` leaves the
    directory as it was.
    """
    files = template_files(name)
    targets = [(dest / file_name, resource) for file_name, resource in files]
    existing = [str(path) for path, _ in targets if path.exists() or path.is_symlink()]
    if existing:
        raise OutputExistsError(f"refusing to overwrite {', '.join(existing)}")
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a directory")
    dest.mkdir(parents=True, exist_ok=True)
    for path, resource in targets:
        path.write_bytes(resource.read_bytes())
    return [path for path, _ in targets]
