"""Where INT8 results go: a new model folder (``quantize``) or the archive being built (``--quantize``).

Both work on copies: the user's model folder is only read.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from model_archiver.errors import UsageError
from model_archiver.packaging import atomic
from model_archiver.packaging.collect import SourceFile, collect_files
from model_archiver.quantization.run import REPORT_FILE, QuantizeOptions, quantize_files

EXTENSION_KEY = "quantization"


@dataclass(frozen=True)
class QuantizedDir:
    """What ``model-archiver quantize`` wrote: the folder, its files, and the report."""

    path: Path
    files: list[str]
    report: dict[str, Any]


def quantize_model_dir(model_dir: Path, out_dir: Path, options: QuantizeOptions, *, model_name: Optional[str] = None,
                       handler: Optional[str] = None, force: bool = False) -> QuantizedDir:
    """Write ``out_dir``: the model folder's files with the FP32 checkpoint swapped for INT8, plus the report."""
    model_dir, out_dir = Path(model_dir), Path(out_dir).absolute()
    if not model_dir.is_dir():
        raise UsageError(f"model folder {model_dir} does not exist or is not a folder")
    if out_dir.resolve() == model_dir.resolve():
        raise UsageError("--out must differ from the model folder (it is never modified)")
    atomic.check_free(out_dir, force, is_dir=True)
    names = {f.arcname: f.path for f in collect_files(model_dir, excludes=(), skip=[out_dir])}
    with tempfile.TemporaryDirectory(prefix="model-archiver-quantize-") as work:
        result = quantize_files(names, model_name=model_name, handler=handler, model_dir=model_dir,
                                options=options, work_dir=Path(work))
        kept = {name: path for name, path in names.items() if name not in result.replaced}
        final = {**kept, **result.files}
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_directory(out_dir, force) as temp:
            for name, path in final.items():
                (temp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, temp / name)
            (temp / REPORT_FILE).write_text(json.dumps(result.report, indent=2, sort_keys=True) + "\n")
    return QuantizedDir(out_dir, sorted([*final, REPORT_FILE]), result.report)


def quantize_for_build(files: list[SourceFile], spec: Any, options: QuantizeOptions, model_dir: Path,
                       work_dir: Path, timings: dict[str, float]) -> tuple[list[SourceFile], Any]:
    """The files to archive with INT8 in place of FP32, and the manifest spec carrying the figures."""
    started = time.perf_counter()
    names = {f.arcname: f.path for f in files}
    result = quantize_files(names, model_name=spec.model_name, handler=spec.handler, model_dir=Path(model_dir),
                            options=options, work_dir=work_dir)
    kept = [f for f in files if f.arcname not in result.replaced and f.arcname not in result.files]
    added = [SourceFile(name, path, path.stat().st_size) for name, path in result.files.items()]
    timings["quantize"] = time.perf_counter() - started
    spec = replace(spec, extensions={**spec.extensions, EXTENSION_KEY: result.report})
    return sorted(kept + added, key=lambda f: f.arcname), spec
