"""Handler scaffolds copied by ``model-archiver init`` (installed as ``model_archiver.templates``).

Each sub-folder is one template: ``model_handler.py`` (archive with
``--handler model_handler:handle``), a ``signature.json`` to edit (its outputs
are placeholders that validation rejects until they name the real graph's), a
sample request (``request.json``, or ``request.png`` for images) and a
``README-service.md`` whose steps end in a served 200. The scaffold imports
``service_sdk`` from the installed package; build with ``--vendor-sdk`` for a
stock MMS without it.
"""
from __future__ import annotations

import errno
import os
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from model_archiver.errors import ArchiverError, OutputExistsError, UsageError

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


def copy_template(name: str, dest: Path, force: bool = False) -> list[Path]:
    """Copy template ``name`` into ``dest`` (created if needed) and return the files written.

    All or nothing: an existing target is refused unless ``force`` (and then
    nothing is written), and each file goes to a temporary name first and is
    renamed into place, so a full disk or an unwritable folder never leaves
    a half-written scaffold or a 0-byte file behind. Other files in ``dest``
    are never touched.
    """
    files = template_files(name)
    targets = [(dest / file_name, resource) for file_name, resource in files]
    _check_destination(dest)
    existing = [path for path, _ in targets if path.exists() or path.is_symlink()]
    if existing and not force:
        listed = ", ".join(str(p) for p in existing)
        raise OutputExistsError(f"refusing to overwrite {listed}; pass --force to replace the template's files "
                                f"(other files in {dest} are left alone), or init another folder")
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        _write_all([(path, resource.read_bytes()) for path, resource in targets])
    except OSError as exc:
        if created and dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()  # the folder this call made is empty again: leave nothing behind
        raise _os_error(dest, exc) from None
    return [path for path, _ in targets]


def _check_destination(dest: Path) -> None:
    """``dest`` or one of its parents is a file: say which, before touching anything."""
    for folder in (dest, *dest.parents):
        if folder.exists():
            if not folder.is_dir():
                raise UsageError(f"cannot create {dest}: {folder} is a file, not a folder; choose another DIR")
            return


def _write_all(contents: list[tuple[Path, bytes]]) -> None:
    """Write every file to a temporary sibling, then rename them all; on failure remove what this call made."""
    temps: list[Path] = []
    try:
        for path, data in contents:
            temp = path.with_name(f".{path.name}.init-tmp")
            temps.append(temp)
            with open(temp, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        for (path, _), temp in zip(contents, temps):
            os.replace(temp, path)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def _os_error(dest: Path, exc: OSError) -> ArchiverError:
    """One line naming the folder and the reason; no traceback, nothing left behind."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(f"cannot write the template into {dest}: {reason}; choose a folder you can write to")
    return ArchiverError(f"cannot write the template into {dest}: {reason}; nothing was written")
