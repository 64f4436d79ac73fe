"""The docs are tests: every shell and Python block in the Markdown runs as printed.

Which blocks: every fenced ```bash / ```sh / ```shell / ```console / ```python
block of README.md, docs/**/*.md and examples/**/README.md (found anew on every
run, so new pages are tested as soon as they exist). One test per block, id
``FILE:LINE`` of its opening fence. Blocks in other languages (json, plain
output, synopses) are not run. ``python -m tests.support.doc_blocks`` prints
the inventory.

Where: each Markdown file gets a private copy of the repository (what a fresh
clone holds: tracked files plus new, not-ignored ones), with the shared test
photos linked beside it as ``../shared`` (where CI puts them next to the
checkout). The copy's root is the working directory, because the docs say
"run from the repository root". The blocks of one file run in order and share
that copy (a later block uses what an earlier one built); after a failure the
rest of that file is skipped with the failing block named. After the last
block, ``FILE:clean`` checks the blocks left nothing ``git status`` would show
(outputs belong under the ignored ``build/``).

What is rewritten before a block runs (the whole policy):
- ``python3 -m venv ...`` and ``pip install ...`` commands (also
  ``.venv/bin/pip install``) become no-ops: the environment under test is
  already installed, and reinstalling it from a temporary copy would point the
  editable install at a folder that is about to disappear.
- ``.venv/bin/`` becomes the running interpreter's ``bin/``, which also goes
  first on ``PATH`` (so ``python``, ``model-archiver`` and
  ``multi-model-server`` are the ones under test).
- ``127.0.0.1:8080`` / ``:8081`` (and ``localhost:``) become two free ports
  in 20000-31999, so concurrent runs do not collide; TEMP/TMPDIR are private
  per file, which also scopes ``multi-model-server --stop`` to that file's
  server.
- Shell blocks run under ``bash`` with ``set -eo pipefail``; ``curl`` gets
  ``--fail-with-body`` so an HTTP error fails the block as it would alarm a
  reader. After a block that runs ``multi-model-server --start`` the test waits
  (up to 120 s) for the management API, as a reader waits before the next
  command. Servers still running at the end are stopped with
  ``multi-model-server --stop``.
- ``console`` blocks run only their ``$ `` lines.

Not run: a block marked on the line before its fence with
``<!-- docs-test: skip (reason) -->`` (listed with its reason in the skip
summary), and server blocks when Java is missing. A malformed marker fails.

Marks and time: every test here is ``slow``; files with server blocks are also
``mms``. Files run side by side, three at a time (``DOCS_TEST_PARALLEL``),
heaviest first: each has its own copy, ports and TEMP, and most of a block's
time is spent waiting on a JVM, a model load or a server. The heaviest file is
examples/resnet-152-eia/README.md (a 242 MB archive of random weights, built
twice and loaded by a real MMS). The seconds each file took are printed at
the end of the run.
"""
from __future__ import annotations

import os
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import doc_blocks
from tests.support.doc_blocks import Block, Workspace

# Files run side by side (see DocsRun); blocks of one file never do.
PARALLEL_FILES = int(os.environ.get("DOCS_TEST_PARALLEL", "3"))
FILE_TIMEOUT = 1800.0

BLOCKS = doc_blocks.collect()
EXECUTABLE = [b for b in BLOCKS if b.executable]
_FILES_WITH_SERVER = {b.path for b in EXECUTABLE if b.needs_server and not b.skip}
_FILES = sorted({b.path for b in EXECUTABLE})


def _marks(block: Block) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.slow]
    if block.path in _FILES_WITH_SERVER:
        marks.append(pytest.mark.mms)
    return marks


@pytest.fixture(scope="module")
def docs_run(request, tmp_path_factory):
    """Start every selected file's chain of blocks at once (files in parallel, blocks in order)."""
    selected = [item.callspec.params["block"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_block_runs_as_printed" and hasattr(item, "callspec")]
    run = DocsRun(selected, tmp_path_factory)
    yield run
    run.finish()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and run.timings:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(f"docs-test: {len(run.timings)} files, {PARALLEL_FILES} at a time; seconds per file:")
            for path, seconds in sorted(run.timings.items(), key=lambda kv: -kv[1]):
                reporter.write_line(f"  {seconds:7.1f}  {path}")


class DocsRun:
    """One thread per Markdown file (at most PARALLEL_FILES at a time); tests wait for their block's outcome.

    Files are independent (each has its own repository copy, ports and TEMP),
    and most of a block's time is spent waiting on a JVM, a model load or a
    server, so running files side by side keeps the job inside its budget on
    two cores. Within a file the blocks stay strictly in order.
    """

    def __init__(self, blocks: list[Block], tmp_path_factory):
        self.files: dict[str, list[Block]] = {}
        for block in blocks:
            self.files.setdefault(block.path, []).append(block)
        self.workspaces: dict[str, Workspace] = {}
        self.timings: dict[str, float] = {}
        self.outcomes: dict[str, Future] = {b.id: Future() for b in blocks}
        bases = {path: tmp_path_factory.mktemp(re.sub(r"[^A-Za-z0-9]+", "-", path)) for path in self.files}
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL_FILES, thread_name_prefix="docs-test")
        heaviest_first = sorted(self.files, key=lambda path: -_weight(self.files[path]))
        self.done = {path: self._pool.submit(self._run_file, path, bases[path]) for path in heaviest_first}

    def outcome(self, block: Block) -> tuple[str, str]:
        return self.outcomes[block.id].result(timeout=FILE_TIMEOUT)

    def workspace(self, path: str) -> Workspace | None:
        if path in self.done:
            self.done[path].result(timeout=FILE_TIMEOUT)
        return self.workspaces.get(path)

    def finish(self) -> None:
        self._pool.shutdown(wait=True)
        for workspace in self.workspaces.values():
            workspace.stop_server()
            if not workspace.failed:  # a failing copy is evidence: kept (pytest prunes old runs)
                workspace.remove()

    def _run_file(self, path: str, base: Path) -> None:
        started = time.perf_counter()
        try:
            workspace = None
            for block in self.files[path]:
                verdict = _static_verdict(block)
                if verdict is None:
                    if workspace is None:
                        workspace = self.workspaces[path] = doc_blocks.make_workspace(base, path)
                    verdict = self._run_block(workspace, block)
                self.outcomes[block.id].set_result(verdict)
        except BaseException as exc:  # a harness failure must reach the tests, never hang them
            for block in self.files[path]:
                if not self.outcomes[block.id].done():
                    self.outcomes[block.id].set_result(("fail", f"docs-test harness error: {exc!r}"))
        finally:
            if workspace is not None:
                workspace.stop_server()  # the file's last block ran: nothing of it should keep serving
            self.timings[path] = time.perf_counter() - started

    @staticmethod
    def _run_block(workspace: Workspace, block: Block) -> tuple[str, str]:
        if workspace.failed:
            return "skip", f"{block.id}: an earlier block of this file failed ({workspace.failed})"
        started = time.perf_counter()
        result = workspace.run(block)
        if result.returncode == 0:
            return "pass", ""
        workspace.failed = block.id
        return "fail", (f"{block.id} exited {result.returncode} after {time.perf_counter() - started:.0f}s\n"
                        f"--- ran ---\n{result.args}\n--- stdout (tail) ---\n{result.stdout[-3000:]}\n"
                        f"--- stderr (tail) ---\n{result.stderr[-3000:]}")


def _static_verdict(block: Block) -> tuple[str, str] | None:
    """The outcome decided without running: a malformed marker, a marked skip, no Java for a server block."""
    if block.marker_error:
        return "fail", f"{block.id}: {block.marker_error}"
    if block.skip:
        return "skip", f"{block.id}: {block.skip}"
    if block.needs_server and doc_blocks.java_missing():
        return "skip", f"{block.id}: {doc_blocks.java_missing()}"
    return None


def _weight(blocks: list[Block]) -> int:
    """Rough cost, to start the slow files first: servers and big models dominate."""
    text = "".join(b.code for b in blocks)
    return len(blocks) + 10 * text.count("multi-model-server") + 10 * text.count("smoke-test") \
        + 30 * text.count("resnet-152")


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id, marks=_marks(b)) for b in EXECUTABLE])
def test_block_runs_as_printed(block: Block, docs_run: DocsRun):
    verdict, message = docs_run.outcome(block)
    if verdict == "skip":
        pytest.skip(message)
    if verdict == "fail":
        pytest.fail(message, pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", _FILES, ids=lambda p: f"{p}:clean")
def test_blocks_leave_the_clone_clean(path: str, docs_run: DocsRun):
    """After a file's blocks, nothing new shows in ``git status``: outputs go under the ignored build/."""
    workspace = docs_run.workspace(path)
    if workspace is None:
        pytest.skip(f"{path}: none of its blocks ran in this session")
    if workspace.failed:
        pytest.skip(f"{path}: block {workspace.failed} failed")
    left = sorted(workspace.untracked() - workspace.initial_untracked)
    assert not left, f"{path}'s blocks left untracked files in the repository root: {left[:10]}"


def test_every_skip_marker_sits_on_a_fence():
    """A marker that is not right above a fence skips nothing: it is a typo waiting to confuse."""
    stray = []
    for file in doc_blocks.doc_files():
        lines = file.read_text(encoding="utf-8").splitlines()
        fences = {b.line for b in doc_blocks.parse_blocks("\n".join(lines), "x")}
        for number, line in enumerate(lines, start=1):
            if not doc_blocks.is_marker_line(line):
                continue
            after = next((n for n in range(number + 1, len(lines) + 1) if lines[n - 1].strip()), None)
            if after not in fences:
                stray.append(f"{file.relative_to(doc_blocks.REPO)}:{number}")
    assert not stray, f"docs-test markers not followed by a code fence: {stray}"


def test_collector_reads_fences_markers_and_console_prompts():
    """The collector itself, on a page written for the purpose."""
    page = "\n".join([
        "text", "```bash", "echo one", "```", "",
        "<!-- docs-test: skip (needs an EI host) -->", "```sh", "echo two", "```",
        "1. step", "   ```console", "   $ echo three \\", "   four", "   three four", "   ```",
        "```json", "{}", "```",
    ])
    blocks = doc_blocks.parse_blocks(page, "page.md")
    assert [(b.line, b.lang, b.skip) for b in blocks] == [
        (2, "bash", None), (7, "sh", "needs an EI host"), (11, "console", None), (16, "json", None)]
    ports = doc_blocks.Ports(20001, 20002)
    script = doc_blocks.shell_script(blocks[2], Path("/x/bin"), ports)
    assert "echo three \\\nfour" in script and "three four\n" not in script.split("four", 1)[1]
    install = doc_blocks.Block("p.md", 1, "bash", "python3 -m venv .venv && .venv/bin/pip install -e . && "
                                                  ".venv/bin/python demo.py\ncurl http://127.0.0.1:8081/models\n")
    script = doc_blocks.shell_script(install, Path("/x/bin"), ports)
    assert "/x/bin/python demo.py" in script and "venv .venv" not in script and "pip install" not in script
    assert "127.0.0.1:20002/models" in script
    assert doc_blocks.Block("p.md", 1, "bash", "model-archiver smoke-test x.mar\n").needs_server
    assert not doc_blocks.Block("p.md", 1, "bash", "model-archiver inspect x.mar\n").needs_server
