"""Run an archive's handler locally, the way an MMS worker would, on one batch of inputs.

The archive is extracted safely into a temporary directory and the handler is
loaded in a child process (:mod:`service_sdk.worker`) with the archive folder
first on ``sys.path`` and as working directory, so a model that crashes the
interpreter (MXNet aborts on some bad graphs) costs a one-line error, not the
caller. The inputs become one batch; each gets its status, phrase, headers
and body back exactly as MMS would have answered them.

This is the only ``service_sdk`` module that imports ``model_archiver``: it
is build-time tooling and never runs inside a served archive.
"""
from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from model_archiver.errors import ModelLoadError, UsageError
from model_archiver.layout import MANIFEST_PATH

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
_BOOTSTRAP = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
# Content types MMS decodes before the handler sees them (JSON and text/*).
_EXTRA_TYPES = {".json": "application/json", ".txt": "text/plain", ".npy": "application/octet-stream"}


@dataclass(frozen=True)
class RequestInput:
    """One request of the batch: a parameter name, its bytes and content type."""

    body: bytes
    content_type: str = "application/octet-stream"
    name: str = "body"
    label: str = ""

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "RequestInput":
        path = Path(path)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read input {path}: {exc.strerror or exc}") from None
        return cls(body, guess_content_type(path), label=str(path))


@dataclass(frozen=True)
class Response:
    """What MMS would have sent back for one request."""

    status: int
    phrase: str
    content_type: Optional[str]
    headers: dict
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class RunResult:
    model_name: str
    handler: str
    responses: list[Response]
    batch_error: Optional[str] = None
    load_seconds: float = 0.0
    predict_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.responses)


def guess_content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def run_archive(
    archive: Union[str, Path],
    inputs: Sequence[Union[str, Path, RequestInput]],
    *,
    batch_size: Optional[int] = None,
    gpu_id: Optional[int] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RunResult:
    """Serve ``inputs`` as one batch with the handler of ``archive`` (.mar, .tar.gz or a directory).

    ``batch_size`` is what the server would configure (default: the number of
    inputs). Raises :class:`ModelLoadError` when the handler fails to load or
    the model process dies, :class:`UsageError` for unreadable inputs.
    """
    requests = [item if isinstance(item, RequestInput) else RequestInput.from_file(item) for item in inputs]
    if not requests:
        raise UsageError("give at least one input")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch size must be >= 1, got {batch_size}")
    archive = Path(archive)
    if not archive.exists():
        raise UsageError(f"archive not found: {archive}")
    with tempfile.TemporaryDirectory(prefix="model-archiver-run-") as work:
        model_dir = archive.resolve() if archive.is_dir() else _extract(archive, Path(work) / "model")
        return run_model_dir(model_dir, requests, batch_size=batch_size or len(requests), gpu_id=gpu_id,
                             timeout=timeout, work_dir=Path(work))


def _extract(archive: Path, dest: Path) -> Path:
    from model_archiver import open_archive

    with open_archive(archive) as reader:
        reader.extract_all(dest)
    return dest


def read_manifest(model_dir: Path) -> dict:
    path = model_dir / MANIFEST_PATH
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{model_dir} has no {MANIFEST_PATH}: not a model archive") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{MANIFEST_PATH} is not valid JSON: {exc}") from None


def run_model_dir(
    model_dir: Path,
    requests: Sequence[RequestInput],
    *,
    batch_size: int,
    gpu_id: Optional[int] = None,
    timeout: float = DEFAULT_TIMEOUT,
    work_dir: Optional[Path] = None,
) -> RunResult:
    """Like :func:`run_archive` for an already extracted archive directory."""
    manifest = read_manifest(model_dir)
    model = manifest.get("model") or {}
    handler, model_name = model.get("handler"), model.get("modelName")
    if not handler or not model_name:
        raise UsageError(f"{MANIFEST_PATH} lacks model.handler or model.modelName")
    with tempfile.TemporaryDirectory(prefix="model-archiver-job-", dir=work_dir) as job_dir:
        job = _write_job(Path(job_dir), model_dir, manifest, handler, model_name, requests, batch_size, gpu_id)
        result = _run_child(job, timeout, model_name)
    if not result.get("ok"):
        raise ModelLoadError(f"handler {handler} failed to load: {result.get('error')}")
    for warning in result.get("warnings", []):
        log.warning("%s", warning)
    responses = [Response(r["status"], r["phrase"], r["content_type"], r["headers"], base64.b64decode(r["body"]))
                 for r in result["responses"]]
    return RunResult(model_name, handler, responses, result.get("batch_error"), result.get("load_seconds", 0.0),
                     result.get("predict_seconds", 0.0), result.get("warnings", []), result.get("metrics", []))


def _write_job(job_dir: Path, model_dir: Path, manifest: dict, handler: str, model_name: str,
               requests: Sequence[RequestInput], batch_size: int, gpu_id: Optional[int]) -> Path:
    entries = []
    for index, request in enumerate(requests):
        body_file = job_dir / f"input-{index}"
        body_file.write_bytes(request.body)
        entries.append({"name": request.name, "content_type": request.content_type, "file": str(body_file)})
    job = {"model_dir": str(model_dir), "manifest": manifest, "handler": handler, "model_name": model_name,
           "batch_size": batch_size, "gpu_id": gpu_id, "requests": entries, "result": str(job_dir / "result.json")}
    path = job_dir / "job.json"
    path.write_text(json.dumps(job), "utf-8")
    return path


def _child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # as the MMS worker does
    env.setdefault("MXNET_USE_OPERATOR_TUNING", "0")
    env["MMS_DECODE_INPUT_REQUEST"] = "true"  # what a stock MMS puts in its workers' environment
    return env


def _run_child(job: Path, timeout: float, model_name: str) -> dict:
    """Run the model process; whatever the handler starts is killed with it (see ``run_in_group``)."""
    from model_archiver.safety.child_process import run_in_group

    command = [sys.executable, "-c", _BOOTSTRAP, str(WORKER_SCRIPT), str(job)]
    outcome = run_in_group(command, cwd=job.parent, env=_child_env(), timeout=timeout, scratch=job.parent / "child")
    if outcome.timed_out:
        raise ModelLoadError(f"model {model_name} did not answer within {timeout:g} s")
    for line in outcome.stderr.splitlines():
        log.debug("worker: %s", line)
    result_file = job.parent / "result.json"
    if result_file.exists():
        return _result(result_file, model_name)
    raise ModelLoadError(f"model {model_name}: the model process {_describe_exit(outcome.returncode)}"
                         f"{_last_line(outcome.stderr)}")


def _result(result_file: Path, model_name: str) -> dict:
    """The worker's report; the handler runs in that process and could have rewritten it."""
    try:
        result = json.loads(result_file.read_text("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("responses", []), list):
        raise ModelLoadError(f"model {model_name}: the model process left an unreadable result")
    return result


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code} without a result"


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f" (last output: {lines[-1][:300]})" if lines else ""
