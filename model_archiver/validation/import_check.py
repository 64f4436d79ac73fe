"""``--check-import``: import the handler in a child interpreter, as the MMS worker would.

The child runs with the model directory as its working directory and first on
``sys.path``, writes no bytecode (the user's directory is never written to),
and reports the exception and the innermost frames of its traceback. A child
process keeps the handler's side effects, crashes and imports out of ours.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from model_archiver.safety import limits
from model_archiver.safety.child_process import run_in_group
from model_archiver.sources import FileSource
from model_archiver.validation.handler import HandlerSpec
from model_archiver.validation.report import Problem, error

log = logging.getLogger(__name__)

_MESSAGE_LIMIT = 300
_PROBE = Path(__file__).with_name("handler_probe.py")


def check_import(
    spec: HandlerSpec, file: str, source: FileSource, model_dir: Path | None, timeout: float | None = None
) -> list[Problem]:
    """Import ``spec.module`` from the model files; one problem if that fails.

    ``timeout`` defaults to the active limits' ``import_timeout`` (``--import-timeout``).
    """
    timeout = limits.active().import_timeout if timeout is None else timeout
    with _model_root(source, model_dir) as root, tempfile.TemporaryDirectory(prefix="ma-probe-") as scratch:
        result_file = Path(scratch, "result.json")
        command = [sys.executable, "-c", _PROBE.read_text("utf-8"), str(result_file), spec.module]
        if spec.function:
            command.append(spec.function)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
        log.info("importing handler %s in a subprocess", spec.text)
        outcome = run_in_group(command, cwd=root, env=env, timeout=timeout, scratch=Path(scratch))
        returncode, stderr = outcome.returncode, outcome.stderr
        if returncode is None:
            return [error(file, f"importing '{spec.module}' did not finish in {timeout:g} s; move slow work "
                                "from import time into initialize() (or raise --import-timeout)",
                          "handler.import-timeout")]
        if not result_file.exists():
            tail = _one_line(stderr.strip().splitlines()[-1:] or [""])
            return [error(file, f"importing '{spec.module}' crashed the interpreter (exit code "
                                f"{returncode}) {tail}".rstrip(), "handler.import-crash")]
        return _problems(spec, file, _result(result_file))


def _result(result_file: Path) -> dict:
    """The probe's result; a handler that tampers with it gets an import-crash, not a traceback."""
    try:
        result = json.loads(result_file.read_bytes()[: 1 << 20])
        if isinstance(result, dict) and {"ok", "stage", "error", "where"} <= set(result):
            return result
    except ValueError:
        pass
    return {"ok": False, "stage": "import", "error": "the probe's result file was unreadable", "where": ""}


def _problems(spec: HandlerSpec, file: str, result: dict) -> list[Problem]:
    if result["ok"]:
        return []
    if result["stage"] == "import":
        where = f" (at {result['where']})" if result["where"] else ""
        return [error(file, f"importing '{spec.module}' failed: {_one_line([result['error']])}{where}; fix the "
                            "import or add the missing file/dependency", "handler.import-error")]
    return [error(file, f"after import: {result['error']}; see MMS's handler rules", "handler.import-entry-point")]


def _one_line(lines: list[str]) -> str:
    text = " ".join(" ".join(lines).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


@contextmanager
def _model_root(source: FileSource, model_dir: Path | None) -> Iterator[Path]:
    """A real directory with the model files: ``model_dir``, or a temporary one.

    A source that maps names to paths (a directory being archived) is
    reproduced with symlinks, so the child sees exactly the archived file set;
    other sources (archives) are copied out.
    """
    if model_dir is not None:
        yield Path(model_dir)
        return
    with tempfile.TemporaryDirectory(prefix="ma-model-") as scratch:
        root = Path(scratch)
        path_of = getattr(source, "path", None)
        for name in source.names():
            if Path(name).is_absolute() or ".." in Path(name).parts:
                continue  # never written outside the scratch dir; verify reports such names
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if callable(path_of):
                target.symlink_to(Path(path_of(name)).resolve())
            else:
                with source.open(name) as reader, target.open("wb") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
        yield root
