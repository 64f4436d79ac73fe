"""Find the fenced code blocks of the project's Markdown, and run them as a reader would.

The docs are tests: every ```bash / ```sh / ```console / ```python block in
README.md, docs/**/*.md and examples/**/README.md runs in a private copy of
the repository (the copy's root is the working directory, since the blocks say
"run from the repository root"). The policy for what is rewritten before a
block runs is documented at the top of ``tests/test_docs.py``; this module is
the mechanism, kept free of pytest so ``python -m tests.support.doc_blocks``
can list the inventory.

A block that cannot run anywhere but a special host (an Elastic Inference
accelerator, the network) carries the announced marker on the line before its
fence::

    <!-- docs-test: skip (needs an Elastic Inference accelerator) -->
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "shell-session"})
PYTHON_LANGS = frozenset({"python", "py", "python3"})
SKIP_MARKER = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>.+)\)\s*-->")
_MARKER_WORD = "docs-test:"
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")
# Commands that would rebuild or reinstall the environment the tests run in.
_INSTALL = re.compile(r"^\s*(\S*/)?(python3?\s+-m\s+venv\b|pip3?\s+install\b|python3?\s+-m\s+pip\s+install\b)")
_PORT = re.compile(r"\b(127\.0\.0\.1|localhost):(?P<port>8080|8081)\b")
_SERVER_START = re.compile(r"\bmulti-model-server\s+--start\b")
# Blocks that need Java: MMS itself, commands that start it, and requests to it.
_SERVER_USE = re.compile(r"\bmulti-model-server\b|\bmodel-archiver\s+(serve|smoke-test|bench)\b"
                         r"|\bcurl\b[^\n]*(127\.0\.0\.1|localhost)")
BLOCK_TIMEOUT = 600.0
SERVER_READY_TIMEOUT = 120.0
PORT_RANGE = (20000, 31999)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and why it is skipped (if it is)."""

    path: str  # repository-relative, POSIX separators
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: Optional[str] = None
    marker_error: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def executable(self) -> bool:
        return self.lang in SHELL_LANGS or self.lang in PYTHON_LANGS

    @property
    def needs_server(self) -> bool:
        return self.lang in SHELL_LANGS and bool(_SERVER_USE.search(self.code))


def doc_files(root: Path = REPO) -> list[Path]:
    """README.md, every docs/**/*.md and examples/**/README.md (new pages are picked up as they appear)."""
    found = [root / "README.md"] if (root / "README.md").is_file() else []
    found += sorted((root / "docs").rglob("*.md"))
    found += sorted((root / "examples").rglob("README.md"))
    return [p for p in found if p.is_file() and not _is_build_output(p.relative_to(root))]


def _is_build_output(relative: Path) -> bool:
    return bool({"build", ".venv", "node_modules"} & set(relative.parts))


def parse_blocks(text: str, path: str) -> list[Block]:
    """Every fenced block of ``text`` (CommonMark fences, also indented inside list items)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        body, end = _fence_body(lines, index + 1, fence, indent)
        skip, marker_error = _marker_before(lines, index)
        blocks.append(Block(path, index + 1, match["info"].lower(), "\n".join(body) + "\n", skip, marker_error))
        index = end + 1
    return blocks


def _fence_body(lines: list[str], start: int, fence: str, indent: int) -> tuple[list[str], int]:
    closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    body: list[str] = []
    for index in range(start, len(lines)):
        if closing.match(lines[index]):
            return body, index
        line = lines[index]
        strip = min(indent, len(line) - len(line.lstrip(" ")))
        body.append(line[strip:])
    return body, len(lines)


def _marker_before(lines: list[str], fence_index: int) -> tuple[Optional[str], Optional[str]]:
    """The skip reason on the nearest non-blank line above the fence, or a complaint about a malformed marker."""
    index = fence_index - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0 or not is_marker_line(lines[index]):
        return None, None
    match = SKIP_MARKER.search(lines[index])
    if match is None:
        return None, (f"line {index + 1}: malformed marker {lines[index].strip()!r}; "
                      "write <!-- docs-test: skip (reason) -->")
    return match["reason"].strip(), None


def is_marker_line(line: str) -> bool:
    """An HTML comment meant as a docs-test marker (prose that mentions the convention is not one)."""
    stripped = line.strip()
    return stripped.startswith("<!--") and _MARKER_WORD in stripped


def collect(root: Path = REPO) -> list[Block]:
    """All blocks of all doc files, in file order."""
    blocks: list[Block] = []
    for file in doc_files(root):
        blocks += parse_blocks(file.read_text(encoding="utf-8"), file.relative_to(root).as_posix())
    return blocks


# --------------------------------------------------------------------------- rewriting


@dataclass(frozen=True)
class Ports:
    inference: int
    management: int


def shell_script(block: Block, bindir: Path, ports: Ports) -> str:
    """The block as bash will run it (see tests/test_docs.py for the policy)."""
    code = block.code
    if block.lang == "console":
        code = _console_commands(code)
    code = code.replace(".venv/bin/", f"{bindir}/")
    code = "\n".join(_without_installs(line) for line in code.splitlines())
    code = _PORT.sub(lambda m: f"{m[1]}:{ports.inference if m['port'] == '8080' else ports.management}", code)
    prelude = ("set -eo pipefail\n"
               "curl() { local rc=0; command curl --silent --show-error --fail-with-body --max-time 300 \"$@\" || rc=$?;"
               " echo; return $rc; }\n")
    return prelude + code + "\n"


def _console_commands(code: str) -> str:
    """``$ cmd`` lines (and their ``\\`` continuations) are commands; the rest is output."""
    commands: list[str] = []
    continuing = False
    for line in code.splitlines():
        if continuing:
            commands.append(line)
        elif re.match(r"^\s*(\(\S+\)\s*)?\$\s", line):
            line = re.sub(r"^\s*(\(\S+\)\s*)?\$\s", "", line)
            commands.append(line)
        else:
            continue
        continuing = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


def _without_installs(line: str) -> str:
    """Replace each ``&&``-separated venv-creating or pip-installing command by a no-op."""
    parts = line.split("&&")
    kept = [": skipped by docs-test: the environment is already installed" if _INSTALL.match(p) else p
            for p in parts]
    return "&&".join(kept)


# --------------------------------------------------------------------------- running


@dataclass
class Workspace:
    """A private copy of the repository for one Markdown file's blocks, which share state in order."""

    root: Path  # the copy: the blocks' working directory
    env: dict[str, str]
    ports: Ports
    failed: Optional[str] = None
    server_started: bool = False
    initial_untracked: set[str] = field(default_factory=set)

    def run(self, block: Block) -> subprocess.CompletedProcess:
        if block.lang in PYTHON_LANGS:
            argv = [sys.executable, "-c", block.code]
            script = block.code
        else:
            script = shell_script(block, Path(sys.executable).parent, self.ports)
            argv = ["bash", "-c", script]
        # Files, not pipes: a server started with --start keeps inherited pipes open after the block ends.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.run(argv, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, timeout=BLOCK_TIMEOUT)
            result = subprocess.CompletedProcess(script, process.returncode, _read(out), _read(err))
        if block.lang in SHELL_LANGS and _SERVER_START.search(block.code):
            self.server_started = True
            if result.returncode == 0 and not re.search(r"multi-model-server\s+--stop", block.code):
                self._wait_for_server(result)
        return result

    def _wait_for_server(self, result: subprocess.CompletedProcess) -> None:
        """A reader waits for the server to come up before the next command; so does the test."""
        deadline = time.monotonic() + SERVER_READY_TIMEOUT
        url = f"http://127.0.0.1:{self.ports.management}/models"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except OSError:
                time.sleep(0.5)
        result.returncode = 124
        result.stderr += f"\n[docs-test] the server did not answer {url} within {SERVER_READY_TIMEOUT:.0f}s"

    def untracked(self) -> set[str]:
        """Paths ``git status`` would show as new (ignored ones excluded, as for a user's clone)."""
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=self.root,
                             env=self.env, capture_output=True, text=True, check=True).stdout
        return {line[3:] for line in out.splitlines() if line.startswith("?? ")}

    @property
    def temp(self) -> Path:
        return Path(self.env["TEMP"])

    def stop_server(self) -> None:
        """Stop a server the blocks left running: MMS's own --stop, scoped to this workspace's TEMP pid file."""
        if self.server_started and (self.temp / ".model_server.pid").exists():
            subprocess.run([str(Path(sys.executable).parent / "multi-model-server"), "--stop"], cwd=self.root,
                           env=self.env, capture_output=True, timeout=120)

    def remove(self) -> None:
        """Delete the copy and its TEMP (a passing copy can hold hundreds of MB)."""
        shutil.rmtree(self.root.parent, ignore_errors=True)
        shutil.rmtree(self.temp, ignore_errors=True)


def _read(stream) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", errors="replace")


def make_workspace(base: Path, doc_path: str, repo: Path = REPO) -> Workspace:
    """Copy the repository (what a fresh clone would hold) to ``base/repo``, with the shared assets beside it."""
    base.mkdir(parents=True, exist_ok=True)
    root = base / "repo"
    for relative in _clone_files(repo):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / relative, target)
    shared = repo.parent / "shared"
    if shared.is_dir():
        (base / "shared").symlink_to(shared, target_is_directory=True)
    # Short: MMS puts its workers' Unix sockets in TEMP, and socket paths stop at 108 bytes.
    temp = Path(tempfile.mkdtemp(prefix="docs-"))
    ports = _free_ports()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "VIRTUAL_ENV")) and key != "MODEL_ARCHIVER_DEBUG"}
    bindir = str(Path(sys.executable).parent)
    env.update(PATH=bindir + os.pathsep + env.get("PATH", ""), TEMP=str(temp), TMPDIR=str(temp), TMP=str(temp),
               PYTHONDONTWRITEBYTECODE="1", GIT_CEILING_DIRECTORIES=str(base))
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
    workspace = Workspace(root, env, ports)
    workspace.initial_untracked = workspace.untracked()
    return workspace


def _clone_files(repo: Path) -> list[str]:
    """Tracked files plus new, not-ignored ones (pages other engineers are writing); never build output."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                             capture_output=True, check=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [p.relative_to(repo).as_posix() for p in repo.rglob("*")
                 if p.is_file() and not ({".git", ".venv", "build", "__pycache__"} & set(p.relative_to(repo).parts))]
    return sorted(n for n in set(names) if (repo / n).is_file() and not (repo / n).is_symlink())


def _free_ports() -> Ports:
    """Two free ports below 32767 (MMS refuses higher ones), as tests/support/mms.py picks them."""
    import random

    chosen: list[int] = []
    while len(chosen) < 2:
        port = random.randint(*PORT_RANGE)
        if port in chosen:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
    return Ports(*chosen)


def java_missing() -> Optional[str]:
    if os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists():
        return None
    return None if shutil.which("java") else "the real Multi Model Server needs Java 17 on PATH"


def inventory(blocks: list[Block]) -> Iterator[str]:
    """Human summary: counts, then every block that is not executed and why."""
    executable = [b for b in blocks if b.executable]
    skipped = [b for b in executable if b.skip]
    yield (f"{len(blocks)} fenced blocks in {len({b.path for b in blocks})} files; "
           f"{len(executable)} shell/python blocks, {len(executable) - len(skipped)} executed, "
           f"{len(skipped)} skipped by marker")
    for block in skipped:
        yield f"  skip {block.id}: {block.skip}"


if __name__ == "__main__":
    for summary_line in inventory(collect()):
        print(summary_line)
