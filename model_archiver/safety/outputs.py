"""The rule that a build never destroys its own input.

An output may be written next to, or even inside, the model folder (the
collector skips it), but no build may replace, rename or delete a path that
*is* the model folder or *contains* it, and a path *inside* it is replaced
only when it is recognisably an archive this tool built (a previous output).
Paths are compared resolved, so a symlink or ``..`` cannot hide the overlap.
"""
from __future__ import annotations

from pathlib import Path

from model_archiver.errors import ArchiverError, UsageError
from model_archiver.layout import MANIFEST_PATH


def check_output(output: Path, model_root: Path) -> None:
    """Raise :class:`UsageError` when writing ``output`` could delete any part of ``model_root``."""
    if not model_root.is_dir():
        return
    real_model = model_root.resolve()
    real_output = output.resolve()
    if real_output == real_model:
        raise UsageError(f"the output {output} would replace the model path itself; choose another --export-path")
    if real_output in real_model.parents:
        raise UsageError(f"the output {output} contains the model path {model_root}, and replacing it would "
                         "delete the model; choose another --export-path")
    exists = output.exists() or output.is_symlink()
    if exists and real_model in real_output.parents and not _built_by_us(output):
        raise UsageError(f"the output {output} lies inside the model path and is not an archive built by this "
                         "tool; refusing to replace it (choose another --export-path or model name)")


def _built_by_us(output: Path) -> bool:
    """True for a previous output: an archive or folder with a manifest, and not a symlink."""
    if output.is_symlink():
        return False
    if output.is_dir():
        return (output / MANIFEST_PATH).is_file()
    from model_archiver.reading.reader import open_archive

    try:
        with open_archive(output) as reader:
            return MANIFEST_PATH in reader.members()
    except ArchiverError:
        return False
