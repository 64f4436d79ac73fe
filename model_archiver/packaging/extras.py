"""What a build adds beyond the model folder: vendored requirements, example requests, serving settings.

Each is optional; :func:`prepare_extras` turns the build options into files
to archive (in the build's work folder) and the manifest changes they imply,
so the builder only has to merge them.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from model_archiver.manifest import ManifestSpec
from model_archiver.request_examples import ExampleSpec, example_files


def prepare_extras(
    spec: ManifestSpec,
    work: Path,
    timings: dict[str, float],
    requirements: str | Path | None = None,
    pip_options: Any = None,
    examples: Sequence[ExampleSpec] = (),
    serving: Mapping[str, int] | None = None,
) -> tuple[ManifestSpec, dict[str, Path]]:
    """``(spec with its handler/extensions updated, archive name -> file)`` for the requested extras."""
    extensions = dict(spec.extensions)
    files: dict[str, Path] = {}
    if requirements is not None:
        spec, extensions, files = _requirements(spec, extensions, Path(requirements), pip_options, work, timings)
    if examples:
        files.update(example_files(examples, work))
        extensions["examples"] = len(examples)
    if serving:
        extensions["serving"] = dict(serving)
    return replace(spec, extensions=extensions), files


def _requirements(
    spec: ManifestSpec, extensions: dict[str, Any], requirements: Path, pip_options: Any, work: Path,
    timings: dict[str, float],
) -> tuple[ManifestSpec, dict[str, Any], dict[str, Path]]:
    from model_archiver.dependencies import PipOptions, bootstrap_source, install_requirements
    from model_archiver.dependencies.bootstrap import BOOTSTRAP_MODULE, LIB_DIR, bootstrap_handler

    started = time.perf_counter()
    vendored = install_requirements(requirements, work / "pip", pip_options or PipOptions())
    timings["requirements"] = time.perf_counter() - started
    bootstrap = work / f"{BOOTSTRAP_MODULE}.py"
    bootstrap.write_text(bootstrap_source(spec.handler), encoding="utf-8")
    extensions["requirements"] = {"handler": spec.handler, "lib": LIB_DIR, "packages": vendored.packages,
                                  **vendored.pip_options}
    files = {**vendored.files, f"{BOOTSTRAP_MODULE}.py": bootstrap}
    return replace(spec, handler=bootstrap_handler(spec.handler)), extensions, files
