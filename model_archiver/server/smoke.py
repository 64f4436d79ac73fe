"""``smoke-test``: serve an archive in the real server and check what it answers.

The checks, in order, each recorded (a failure does not hide the next one):

1. ``local run``: the local runner (``run``) answers the inputs as one batch;
2. ``register``: the server loads the archive with its serving settings;
3. ``single``: each input alone gets a 2xx and the expected body (when given);
4. ``matches run``: each server answer equals the runner's for the same input;
5. ``concurrent``: all inputs at once (at least one batch's worth) get the same answers;
6. ``scale up`` / ``scale down``: two workers become READY and answer alike, then one again.

The server is the judge of record: ``run`` emulates the worker in-process and
can disagree with MMS (decoding, errors), which is exactly what CI must catch.
"""
from __future__ import annotations

import json
import logging
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from model_archiver.errors import ArchiverError, ServerError, UsageError
from model_archiver.server.client import Response
from model_archiver.server.process import MMSServer, importable_by_workers, running_server
from model_archiver.server.settings import ServingSettings, read_manifest, settings_from_manifest

log = logging.getLogger(__name__)
SCALED_WORKERS = 2
BODY_PREVIEW = 300
ANSWER_CHARS = 20_000  # answers kept whole in the report up to this size


@dataclass(frozen=True)
class SmokeInput:
    """One request to send and, optionally, how to judge its answer."""

    name: str
    body: bytes
    content_type: str
    expected_json: Any | None = None
    expected_label: str | None = None


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class SmokeReport:
    """Every check and the answers the server gave (per input)."""

    archive: str
    model_name: str
    settings: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def add(self, name: str, problems: Sequence[str], passed: str = "") -> bool:
        """Record a check that passed when ``problems`` is empty; the first few problems otherwise."""
        detail = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
        self.checks.append(Check(name, not problems, detail if problems else passed))
        return not problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "archive": self.archive, "model_name": self.model_name,
                "settings": self.settings, "checks": [asdict(c) for c in self.checks], "answers": self.answers}


def inputs_from_files(paths: Sequence[Path], *, expect_json: Sequence[Path] = (),
                      expect_labels: Sequence[str] = ()) -> list[SmokeInput]:
    """Inputs from files; one expectation for all of them, or one per input."""
    from model_archiver.safety.run_inputs import check_inputs
    from service_sdk.runner import guess_content_type

    check_inputs([*paths, *expect_json])  # regular files within the size limit: never /dev/zero or a FIFO
    expected = [_read_json(path) for path in expect_json]
    for option, values in (("--expect-json", expected), ("--expect-label", expect_labels)):
        if len(values) not in (0, 1, len(paths)):
            raise UsageError(f"give {option} once (for every input) or once per input ({len(paths)})")
    result = []
    for index, path in enumerate(paths):
        try:
            body = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read input {path}: {exc.strerror or exc}") from None
        result.append(SmokeInput(str(path), body, guess_content_type(Path(path)),
                                 _pick(expected, index), _pick(list(expect_labels), index)))
    return result


def inputs_from_examples(archive: Path) -> list[SmokeInput]:
    """The example requests stored in the archive (``build --example``), with their expected answers."""
    from model_archiver.reading.reader import open_archive
    from model_archiver.request_examples import load_examples

    with open_archive(archive) as reader:
        examples = load_examples(reader)
    return [SmokeInput(e.name, e.body, e.content_type, e.expected) for e in examples]


def _pick(values: Sequence[Any], index: int) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else values[index]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None


def smoke_test(archive: Path, inputs: Sequence[SmokeInput], *, expect_regex: str | None = None,
               batch_size: int | None = None, response_timeout: int | None = None,
               work_dir: Path | None = None, progress: Callable[[str], None] = log.info) -> SmokeReport:
    """Run every check against ``archive`` in a fresh server; the report says what failed.

    Raises :class:`ServerError` only when the server itself cannot start
    (no Java/MMS); a broken archive is a failed check, not an exception.
    """
    if not inputs:
        raise UsageError("give at least one --input (the archive has no stored examples)")
    pattern = _compile(expect_regex)
    manifest = read_manifest(archive)
    settings = settings_from_manifest(manifest).override(batch_size=batch_size,
                                                         response_timeout_s=response_timeout)
    report = SmokeReport(str(archive), (manifest.get("model") or {}).get("modelName", "?"), asdict(settings))
    progress("running the inputs through the local runner")
    local = _local_answers(archive, inputs, settings, report)
    with tempfile.TemporaryDirectory(prefix="model-archiver-smoke-", dir=work_dir) as base:
        with running_server(Path(base), env=importable_by_workers("service_sdk"),
                            response_timeout=settings.response_timeout_s) as server:
            progress(f"MMS started on {server.inference_url}; registering {Path(archive).name}")
            name = _register(server, archive, settings, report)
            if name is not None:
                _serve_checks(server, name, inputs, local, pattern, settings, report, progress)
    return report


def _compile(expect_regex: str | None) -> re.Pattern[str] | None:
    if expect_regex is None:
        return None
    try:
        return re.compile(expect_regex)
    except re.error as exc:
        raise UsageError(f"--expect-regex is not a valid regular expression: {exc}") from None


def _local_answers(archive: Path, inputs: Sequence[SmokeInput], settings: ServingSettings,
                   report: SmokeReport) -> list[bytes] | None:
    from service_sdk.runner import RequestInput, run_archive

    requests = [RequestInput(item.body, item.content_type, label=item.name) for item in inputs]
    try:
        result = run_archive(archive, requests, batch_size=max(settings.batch_size, len(requests)),
                             timeout=float(settings.response_timeout_s))
    except ArchiverError as exc:
        report.add("local run", [str(exc).splitlines()[0]])
        return None
    report.add("local run", [], f"{len(result.responses)} answer(s) from the local runner")
    return [response.body for response in result.responses]


def _register(server: MMSServer, archive: Path, settings: ServingSettings, report: SmokeReport) -> str | None:
    try:
        name = server.serve(Path(archive), **settings.register_options())
    except ServerError as exc:
        report.add("register", [str(exc)])
        return None
    report.model_name = name
    report.add("register", [], f"{settings.workers} worker(s) READY, batch size {settings.batch_size}")
    return name


def _serve_checks(server: MMSServer, name: str, inputs: Sequence[SmokeInput], local: list[bytes] | None,
                  pattern: re.Pattern[str] | None, settings: ServingSettings, report: SmokeReport,
                  progress: Callable[[str], None]) -> None:
    progress(f"sending {len(inputs)} input(s) one at a time")
    singles = [server.predict(name, item.body, item.content_type) for item in inputs]
    report.answers = [{"input": item.name, "status": r.status, "body": _preview(r.body, ANSWER_CHARS)}
                      for item, r in zip(inputs, singles)]
    report.add("single", [p for item, r in zip(inputs, singles) for p in _judge(item, r, pattern, server)],
               f"{len(singles)} answer(s) as expected")
    if local is not None:
        report.add("matches run", [f"{item.name}: {problem}" for item, r, body in zip(inputs, singles, local)
                                   if (problem := _differs(body, r.body))],
                   "the server's answers equal the local runner's")
    count = max(len(inputs), settings.batch_size * 2)
    progress(f"sending {count} request(s) at once")
    report.add("concurrent", _same_answers(server, name, inputs, singles, count),
               f"{count} concurrent request(s) answered as singly")
    _scale_checks(server, name, inputs, singles, settings, report, progress)


def _scale_checks(server: MMSServer, name: str, inputs: Sequence[SmokeInput], singles: list[Response],
                  settings: ServingSettings, report: SmokeReport, progress: Callable[[str], None]) -> None:
    target = max(SCALED_WORKERS, settings.workers + 1)
    for label, workers in (("scale up", target), ("scale down", settings.workers)):
        progress(f"{label}: {workers} worker(s)")
        answer = server.scale(name, workers)
        if answer.status != 200:
            report.add(label, [server.registration_failure(name, answer)])
            return
        ready = [w.get("status") for w in server.describe(name).get("workers", [])]
        problems = [] if ready == ["READY"] * workers else [f"workers {ready}, expected {workers} READY"]
        problems += _same_answers(server, name, inputs, singles, max(len(inputs), 2 * workers))
        report.add(label, problems, f"{workers} worker(s) READY and answering alike")


def _same_answers(server: MMSServer, name: str, inputs: Sequence[SmokeInput], singles: list[Response],
                  count: int) -> list[str]:
    order = [i % len(inputs) for i in range(count)]
    with ThreadPoolExecutor(max_workers=min(count, 16)) as pool:
        answers = list(pool.map(lambda i: server.predict(name, inputs[i].body, inputs[i].content_type), order))
    problems = []
    for index, answer in zip(order, answers):
        if answer.status != singles[index].status:
            problems.append(f"{inputs[index].name}: HTTP {answer.status}, alone it got {singles[index].status}")
        elif problem := _differs(singles[index].body, answer.body):
            problems.append(f"{inputs[index].name}: {problem}")
    return problems


def _judge(item: SmokeInput, response: Response, pattern: re.Pattern[str] | None, server: MMSServer) -> list[str]:
    from model_archiver.request_examples import compare

    if not 200 <= response.status < 300:
        tail = " | ".join(_worker_error(server))
        return [f"{item.name}: HTTP {response.status} {_preview(response.body)}" + (f" ({tail})" if tail else "")]
    problems = []
    if item.expected_json is not None and (problem := compare(item.expected_json, response.body)):
        problems.append(f"{item.name}: {problem}")
    if pattern is not None and not pattern.search(response.text):
        problems.append(f"{item.name}: body does not match /{pattern.pattern}/: {_preview(response.body)}")
    if item.expected_label is not None:
        label = top_label(response.body)
        if label != item.expected_label:
            problems.append(f"{item.name}: top label {label!r}, expected {item.expected_label!r}")
    return problems


def _worker_error(server: MMSServer) -> list[str]:
    from model_archiver.server.process import MMS_LOG, MODEL_LOG, traceback_tail

    return traceback_tail(server.log_text(MODEL_LOG), lines=2) or traceback_tail(server.log_text(MMS_LOG), lines=2)


def top_label(body: bytes) -> str | None:
    """The first class an answer names: ``[{"class": ...}, ...]``, ``{"class"|"label": ...}`` or a string."""
    try:
        value: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body.decode("utf-8", errors="replace").strip()
    while isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("class", value.get("label"))
    return None if value is None else str(value)


def _differs(expected: bytes, actual: bytes) -> str | None:
    """None when two answers agree (JSON within float tolerance, else byte for byte)."""
    from model_archiver.request_examples import compare

    try:
        expected_value = json.loads(expected.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None if expected == actual else f"expected {_preview(expected)}, got {_preview(actual)}"
    return compare(expected_value, actual)


def _preview(body: bytes, limit: int = BODY_PREVIEW) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."
