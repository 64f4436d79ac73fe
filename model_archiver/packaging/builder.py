"""``build_archive``: collect → convert → validate → write → move into place.

Nothing is written next to the output until every check has passed, and the
output only appears, complete, in its final step (see :mod:`atomic`).
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from model_archiver.errors import ArchiverError, UsageError, ValidationFailed
from model_archiver.layout import ARCHIVE_SUFFIXES, MANIFEST_PATH, RECORD_PATH
from model_archiver.manifest import ManifestSpec, dump_manifest
from model_archiver.packaging import atomic, compression
from model_archiver.packaging.collect import SourceFile, collect_files
from model_archiver.packaging.result import ArchivedFile, ArchiveResult
from model_archiver.packaging.streaming import HashingCopier
from model_archiver.packaging.timestamps import build_epoch
from model_archiver.packaging.writers import ArchiveWriter, DirectoryWriter, TarGzWriter, ZipWriter
from model_archiver.record import FileRecord, dump_record
from model_archiver.sources import MappingSource
from model_archiver.validation.report import Problem, failing

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
TGZ_LAYOUTS = ("root", "folder")


def build_archive(
    model_dir: str | Path,
    *,
    model_name: str,
    handler: str,
    export_path: str | Path = ".",
    archive_format: str = "default",
    force: bool = False,
    runtime: str = "python",
    convert: bool = False,
    excludes: Sequence[str] = (),
    compression_policy: str = compression.AUTO,
    extra_files: Mapping[str, Path] | None = None,
    validate: bool = True,
    strict: bool = False,
    check_import: bool = False,
    check_shapes: bool = False,
    tgz_layout: str = "root",
    on_progress: Optional[ProgressCallback] = None,
    **manifest_fields: Any,
) -> ArchiveResult:
    """Build one archive of ``model_dir`` and return what was written.

    ``manifest_fields`` are the optional :class:`ManifestSpec` fields
    (``model_version``, ``description``, ``author``, ``email``, ``license``,
    ``engine_name``, ``engine_version``, ``extensions``).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    spec = ManifestSpec(model_name=model_name, handler=handler, runtime=runtime, **manifest_fields)
    spec.check()
    _check_choices(archive_format, compression_policy, tgz_layout)
    model_root = Path(model_dir)
    output = _output_path(Path(export_path), model_name, archive_format, model_root)
    atomic.check_free(output, force, is_dir=archive_format == "no-archive")

    with tempfile.TemporaryDirectory(prefix="model-archiver-") as work:
        files = collect_files(model_root, excludes=excludes, skip=[output])
        timings["collect"] = time.perf_counter() - started
        files, generated = _convert(files, convert, model_name, Path(work), timings)
        files = _merge_extra(files, {**generated, **(extra_files or {})})
        spec = _with_engine(spec, files)
        problems = _validate(files, spec, model_root, validate, strict, check_import, check_shapes,
                             pristine=not generated and not extra_files, timings=timings)
        write_started = time.perf_counter()
        entries = _write(output, archive_format, files, spec, compression_policy, tgz_layout, force, on_progress)
        timings["write"] = time.perf_counter() - write_started
    timings["total"] = time.perf_counter() - started
    log.info("wrote %s (%d files)", output, len(entries))
    return ArchiveResult(output, archive_format, spec.to_dict(), entries, problems, timings)


def _check_choices(archive_format: str, policy: str, tgz_layout: str) -> None:
    if archive_format not in ARCHIVE_SUFFIXES:
        raise UsageError(f"unknown archive format {archive_format!r}: choose {', '.join(ARCHIVE_SUFFIXES)}")
    if policy not in compression.POLICIES:
        raise UsageError(f"unknown compression {policy!r}: choose {', '.join(compression.POLICIES)}")
    if tgz_layout not in TGZ_LAYOUTS:
        raise UsageError(f"unknown tgz layout {tgz_layout!r}: choose {', '.join(TGZ_LAYOUTS)}")


def _output_path(export_dir: Path, model_name: str, archive_format: str, model_root: Path) -> Path:
    if export_dir.exists() and not export_dir.is_dir():
        raise UsageError(f"export path {export_dir} is not a directory")
    try:
        export_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create export path {export_dir}: {exc.strerror}") from None
    output = (export_dir / f"{model_name}{ARCHIVE_SUFFIXES[archive_format]}").absolute()
    if model_root.is_dir() and output.resolve() == model_root.resolve():
        raise UsageError(f"the output {output} would replace the model path itself; choose another --export-path")
    return output


def _convert(
    files: list[SourceFile], convert: bool, model_name: str, work: Path, timings: dict[str, float]
) -> tuple[list[SourceFile], dict[str, Path]]:
    """With ``-c``, swap the single root ``.onnx`` for a converted MXNet checkpoint."""
    if not convert:
        return files, {}
    onnx_files = [f for f in files if "/" not in f.arcname and f.arcname.lower().endswith(".onnx")]
    if not onnx_files:
        log.warning("-c/--convert given but the model path has no .onnx file; nothing converted")
        return files, {}
    if len(onnx_files) > 1:
        names = ", ".join(f.arcname for f in onnx_files)
        raise UsageError(f"-c/--convert expects one .onnx file in the model path, found {len(onnx_files)}: {names}")
    from model_archiver.onnx_import import convert_for_build

    started = time.perf_counter()
    signature = next((f.path for f in files if f.arcname == "signature.json"), None)
    generated = convert_for_build(onnx_files[0].path, model_name=model_name, work_dir=work / "convert",
                                  user_signature=signature)
    timings["convert"] = time.perf_counter() - started
    return [f for f in files if f is not onnx_files[0]], generated


def _merge_extra(files: list[SourceFile], extra: Mapping[str, Path]) -> list[SourceFile]:
    """Add generated or vendored files; clashing with a user file is an error, not an overwrite."""
    if not extra:
        return files
    present = {f.arcname for f in files}
    clashes = sorted(name for name in extra if name in present and name != "signature.json")
    if clashes:
        raise UsageError(f"generated files would replace files in the model path: {', '.join(clashes)}")
    added = [SourceFile(name, Path(path), Path(path).stat().st_size) for name, path in extra.items()]
    kept = [f for f in files if f.arcname not in extra]
    return sorted(kept + added, key=lambda f: f.arcname)


def _with_engine(spec: ManifestSpec, files: list[SourceFile]) -> ManifestSpec:
    """Name the engine MXNet when an MXNet checkpoint is archived and the user named none."""
    if spec.engine_name or not any(f.arcname.endswith("-symbol.json") for f in files):
        return spec
    return replace(spec, engine_name="MXNet")


def _validate(
    files: list[SourceFile],
    spec: ManifestSpec,
    model_root: Path,
    enabled: bool,
    strict: bool,
    check_import: bool,
    check_shapes: bool,
    pristine: bool,
    timings: dict[str, float],
) -> list[Problem]:
    if not enabled:
        return []
    from model_archiver.validation import validate_source

    started = time.perf_counter()
    source = MappingSource({f.arcname: f.path for f in files})
    problems = validate_source(
        source,
        model_name=spec.model_name,
        handler=spec.handler,
        model_dir=model_root if pristine else None,
        check_import=check_import,
        check_shapes=check_shapes,
    )
    timings["validate"] = time.perf_counter() - started
    if failing(problems, strict):
        raise ValidationFailed(problems)
    for problem in problems:
        log.warning("%s", problem)
    return problems


def _write(
    output: Path,
    archive_format: str,
    files: list[SourceFile],
    spec: ManifestSpec,
    policy: str,
    tgz_layout: str,
    force: bool,
    on_progress: Optional[ProgressCallback],
) -> list[ArchivedFile]:
    total = sum(f.size for f in files)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if on_progress:
            on_progress(done, total)

    methods = {f.arcname: compression.choose(f.path, f.size, policy) for f in files}
    placer = atomic.atomic_directory if archive_format == "no-archive" else atomic.atomic_file
    try:
        with placer(output, force) as temp, HashingCopier(advance) as copier:
            writer = _open_writer(archive_format, temp, copier, spec.model_name, tgz_layout, methods, files)
            try:
                entries = _write_entries(writer, files, methods, spec, _metadata_method(policy))
            finally:
                writer.close()
    except OSError as exc:
        raise ArchiverError(f"could not write {output}: {exc.strerror or exc}") from None
    return entries


def _open_writer(
    archive_format: str,
    temp: Path,
    copier: HashingCopier,
    model_name: str,
    tgz_layout: str,
    methods: dict[str, str],
    files: list[SourceFile],
) -> ArchiveWriter:
    epoch = build_epoch()
    if archive_format == "default":
        return ZipWriter(temp, epoch, copier)
    if archive_format == "tgz":
        prefix = f"{model_name}/" if tgz_layout == "folder" else ""
        return TarGzWriter(temp, epoch, copier, prefix, _gzip_level(methods, files))
    return DirectoryWriter(temp, copier)


def _gzip_level(methods: dict[str, str], files: list[SourceFile]) -> int:
    """One level for the whole gzip stream: 0 if all is stored, fast if most bytes are dense."""
    stored = sum(f.size for f in files if methods[f.arcname] == compression.STORE)
    if files and all(m == compression.STORE for m in methods.values()):
        return 0
    return 1 if stored * 2 > sum(f.size for f in files) else 6


def _metadata_method(policy: str) -> str:
    return compression.STORE if policy == compression.STORE else compression.DEFLATE


def _write_entries(
    writer: ArchiveWriter, files: list[SourceFile], methods: dict[str, str], spec: ManifestSpec, meta: str
) -> list[ArchivedFile]:
    records: list[FileRecord] = []
    entries: list[ArchivedFile] = []
    for entry in files:
        record = writer.add_file(entry, methods[entry.arcname])
        records.append(record)
        entries.append(ArchivedFile(record.path, record.sha256, record.size, methods[entry.arcname]))
    manifest = writer.add_bytes(MANIFEST_PATH, dump_manifest(spec.to_dict()), meta)
    records.append(manifest)
    entries.append(ArchivedFile(manifest.path, manifest.sha256, manifest.size, meta))
    writer.add_bytes(RECORD_PATH, dump_record(records), meta)
    return entries
