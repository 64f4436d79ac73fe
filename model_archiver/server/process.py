"""Start, drive and always stop an isolated Multi Model Server (MMS 1.x).

Each server gets its own ports (20000-31999: MMS refuses ports above 32767, so
OS-assigned ephemeral ports never work), its own TEMP/TMPDIR (the worker
sockets, extracted archives and MMS's pid file live there, and two servers
sharing them collide), its own model store and its own log directory. The
frontend binds only 127.0.0.1.

The worker's Python is the interpreter that runs ``mms.model_server`` (MMS
passes ``sys.executable`` to the Java frontend as ``--python``), so the server
is started with the interpreter of the environment in use, and that
environment's ``bin`` goes first on ``PATH`` for manifests with
``runtime: python3`` (which MMS resolves through ``PATH``). Every worker
inherits the frontend's environment, which is how ``OMP_NUM_THREADS`` reaches
the workers.

The server is stopped by the process group of the process we started - never
with ``multi-model-server --stop``, which kills whatever pid a shared pid file
names.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from model_archiver.errors import ServerError, UsageError
from model_archiver.server.client import Response, http

log = logging.getLogger(__name__)

PORT_RANGE = (20000, 31999)
MAX_PORT = 32767
MMS_LOG = "mms_log.log"
MODEL_LOG = "model_log.log"
FRONTEND_OUT = "frontend.out"  # the launcher's and the JVM's console
STARTUP_TIMEOUT = 90.0
INSTALL_HINT = "pip install 'model-archiver[server]'"
WORKER_SCRIPT = "model_service_worker.py"
SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to 107 bytes; keep a margin
_NOISE = ("ACCESS_LOG", "MMS_METRICS", "MODEL_METRICS")
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT[\d:,]+ \[(\w+) *\] (\S+) (\S+) - ")


def java_missing_reason() -> str | None:
    """Why the real server cannot run here for lack of Java, or None when it can."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return "the real Multi Model Server needs Java 17 (set JAVA_HOME or put java on PATH)"
    return None


def server_missing_reason() -> str | None:
    """Why no server can start here (no MMS package, or no Java), or None when one can."""
    for module, what in (("mms", "Multi Model Server"), ("psutil", "psutil (to stop the server's workers)")):
        if importlib.util.find_spec(module) is None:
            return f"{what} is not installed: {INSTALL_HINT}"
    return java_missing_reason()


def importable_by_workers(*packages: str) -> dict[str, str]:
    """An env (``PYTHONPATH``) under which workers import ``packages`` from where we do.

    Until the project is pip-installed, ``service_sdk`` lives only in the
    source tree; pointing workers at the same folder serves the code in use.
    """
    roots: list[str] = []
    for name in packages:
        root = str(Path(importlib.import_module(name).__file__).resolve().parent.parent)
        if root not in roots:
            roots.append(root)
    return {"PYTHONPATH": os.pathsep.join(roots)}


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int = 2, exclude: tuple[int, ...] = ()) -> list[int]:
    """``count`` distinct ports in PORT_RANGE that are free right now."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(*PORT_RANGE)
        if port not in chosen and port not in exclude and port_is_free(port):
            chosen.append(port)
    return chosen


def short_log_line(line: str) -> str | None:
    """``LEVEL logger: message`` for a server log line; None for access/metrics noise."""
    match = _LOG_PREFIX.match(line)
    if not match:
        return line.rstrip() or None
    level, thread, logger = match.groups()
    message = line[match.end():].rstrip()
    if logger in _NOISE or level == "DEBUG" or message.startswith("Backend response time"):
        return None
    return f"{level:<5} {logger.rsplit('.', 1)[-1]}: {message}"


def traceback_tail(log_text: str, lines: int = 12) -> list[str]:
    """The last Python traceback a worker printed: its last frames and the exception line.

    Workers' stdout/stderr reach MMS's log through threads named ``...-stdout``
    / ``...-stderr``, each line logged twice (two appenders); import-machinery
    frames and caret lines are noise in a one-screen error.
    """
    messages: list[str] = []
    from_worker = False
    for line in log_text.splitlines():
        match = _LOG_PREFIX.match(line)
        if match:  # unprefixed lines continue the previous entry (e.g. a Java stack trace)
            from_worker = match.group(2).endswith(("-stdout", "-stderr"))
        if not from_worker:
            continue
        text = (line[match.end():] if match else line).rstrip()
        if not text.strip() or set(text.strip()) <= {"^", "~"} or '"<frozen ' in text:
            continue
        if not messages or messages[-1] != text:
            messages.append(text)
    starts = [i for i, text in enumerate(messages) if text.startswith("Traceback (most recent call last)")]
    if not starts:
        return []
    block = messages[starts[-1] + 1:]
    end = next((i for i, text in enumerate(block) if not text[0].isspace() and not text.startswith("Traceback")),
               len(block) - 1)
    return block[: end + 1][-lines:]


@dataclass
class MMSServer:
    """A running server and the directories it owns."""

    base: Path
    python: Path
    inference_port: int
    management_port: int
    process: subprocess.Popen | None = field(default=None, repr=False)
    response_timeout: int = 120
    _short_temp: Path | None = field(default=None, repr=False)

    @property
    def model_store(self) -> Path:
        return self.base / "model-store"

    @property
    def log_dir(self) -> Path:
        return self.base / "logs"

    @property
    def temp_dir(self) -> Path:
        """TEMP/TMPDIR of the server: its own, and short enough for the workers' unix sockets.

        MMS puts ``.mms.sock.PORT`` there; a socket path is limited to 107
        bytes, so under a deep ``base`` a private folder in /tmp is used.
        """
        if self._short_temp is not None:
            return self._short_temp
        own = self.base / "tmp"
        if len(str(own)) + len("/.mms.sock.65535") < SOCKET_PATH_MAX:
            return own
        self._short_temp = Path(tempfile.mkdtemp(prefix="mms-", dir="/tmp" if Path("/tmp").is_dir() else None))
        return self._short_temp

    @property
    def inference_url(self) -> str:
        return f"http://127.0.0.1:{self.inference_port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    # -- lifecycle -----------------------------------------------------------

    def write_config(self) -> Path:
        """The config.properties this server runs with (only 127.0.0.1 addresses)."""
        config = self.base / "config.properties"
        config.write_text(
            "\n".join([
                f"inference_address={self.inference_url}",
                f"management_address={self.management_url}",
                f"model_store={self.model_store}",
                "default_workers_per_model=1",
                "number_of_netty_threads=2",
                "netty_client_threads=2",
                f"default_response_timeout={self.response_timeout}",
                # A small, single-threaded-GC JVM: CI shares two cores.
                "vmargs=-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
                "",
            ])
        )
        return config

    def start(self, env: Mapping[str, str] | None = None, timeout: float = STARTUP_TIMEOUT) -> None:
        """Launch the frontend in the foreground of a new session and wait for /ping."""
        for directory in (self.model_store, self.log_dir, self.temp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        command = [
            str(self.python), "-m", "mms.model_server", "--start", "--foreground",
            "--mms-config", str(config), "--model-store", str(self.model_store),
        ]
        with open(self.log_dir / FRONTEND_OUT, "ab") as output:
            self.process = subprocess.Popen(
                command, cwd=self.base, env=self._environment(env), stdout=output,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        log.info("started MMS pid %s on ports %s/%s", self.process.pid, self.inference_port,
                 self.management_port)
        self._wait_until_healthy(timeout)

    def _environment(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("MMS_")}
        env.pop("PYTHONPATH", None)
        env.update({
            "TEMP": str(self.temp_dir),
            "TMPDIR": str(self.temp_dir),
            "LOG_LOCATION": str(self.log_dir),
            "METRICS_LOCATION": str(self.log_dir),
            "PATH": os.pathsep.join([str(self.python.parent), env.get("PATH", "")]),
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
        })
        env.update(extra or {})
        return env

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerError(f"MMS exited during start-up\n{self.logs_excerpt(20)}")
            try:
                if http("GET", f"{self.inference_url}/ping", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise ServerError(f"MMS did not answer /ping within {timeout:.0f}s\n{self.logs_excerpt(20)}")

    def stop(self, grace: float = 10.0) -> None:
        """Terminate our process tree (frontend, workers); kill what outlives ``grace``."""
        import psutil

        if self.process is None:
            self._remove_short_temp()
            return
        pid = self.process.pid
        tree = self.process_tree()
        self._signal_group(pid, signal.SIGTERM)
        for proc in tree:
            _quietly(proc.terminate)
        _, alive = psutil.wait_procs(tree, timeout=grace)
        self._signal_group(pid, signal.SIGKILL)
        for proc in alive:
            _quietly(proc.kill)
        psutil.wait_procs(alive, timeout=grace)
        self.process.wait(timeout=grace)
        self.process = None
        self._remove_short_temp()
        log.info("stopped MMS pid %s", pid)

    def _remove_short_temp(self) -> None:
        if self._short_temp is not None:
            shutil.rmtree(self._short_temp, ignore_errors=True)
            self._short_temp = None

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        """Our server leads its own session, so its group id is its pid."""
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def process_tree(self) -> list[Any]:
        """Every live process we started (launcher, Java frontend, workers), as psutil processes."""
        import psutil

        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_processes(self) -> list[Any]:
        """The Python processes that serve requests (one per registered worker).

        MMS 1.1 starts one worker script that forks a child per worker; the
        forked children are the workers. Without a fork parent, every worker
        script process is one.
        """
        scripts = [proc for proc in self.process_tree() if _is_worker(proc)]
        pids = {proc.pid for proc in scripts}
        forked = [proc for proc in scripts if _parent_pid(proc) in pids]
        return forked or scripts

    # -- management API ------------------------------------------------------

    def add_archive(self, archive: Path) -> str:
        """Put ``archive`` (.mar, .tar.gz or unarchived folder) in the model store; return its url.

        MMS reads zip archives and folders; a ``.tar.gz`` is extracted into a
        folder. An archive built straight into the store is used in place.
        """
        archive = Path(archive)
        target = self.model_store / archive.name
        if target.exists() and target.resolve() == archive.resolve():
            return archive.name
        if archive.is_dir():
            shutil.copytree(archive, target, dirs_exist_ok=True)
        elif archive.name.endswith((".tar.gz", ".tgz")):
            from model_archiver.reading.reader import open_archive

            target = self.model_store / re.sub(r"\.(tar\.gz|tgz)$", "", archive.name)
            with open_archive(archive) as reader:
                reader.extract_all(target)
        else:
            shutil.copy2(archive, target)
        return target.name

    def register(self, url: str, *, batch_size: int = 1, max_batch_delay: int = 100,
                 initial_workers: int = 1, model_name: str | None = None,
                 response_timeout: int | None = None) -> Response:
        """Register an archive by its model-store-relative ``url``, waiting for the workers."""
        query: dict[str, Any] = {"url": url, "batch_size": batch_size, "max_batch_delay": max_batch_delay,
                                 "initial_workers": initial_workers, "synchronous": "true"}
        if model_name:
            query["model_name"] = model_name
        if response_timeout:
            query["response_timeout"] = response_timeout
        return http("POST", f"{self.management_url}/models?{urllib.parse.urlencode(query)}")

    def serve(self, archive: Path, **options: Any) -> str:
        """Add ``archive`` to the store and register it; return the model name the server gives it."""
        url = self.add_archive(archive)
        response = self.register(url, **options)
        if response.status != 200:
            raise ServerError(self.registration_failure(Path(archive).name, response))
        return self.model_name_for(url)

    def registration_failure(self, label: str, response: Response) -> str:
        """Why registering failed: the server's message and the worker's traceback tail."""
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        lines = [f"registering {label} failed (HTTP {response.status}: {message.strip()[:300]})"]
        log_name, tail = self._worker_traceback()
        if tail:
            lines.append(f"the worker's traceback (end of it, from the server's {log_name}):")
            lines.extend(f"  {line}" for line in tail)
        else:
            lines.append(f"see the server's logs in {self.log_dir}")
        return "\n".join(lines)

    def _worker_traceback(self, wait: float = 3.0) -> tuple[str, list[str]]:
        """The worker's last traceback and the log holding it, waiting briefly for its exception line."""
        deadline = time.monotonic() + wait
        while True:
            found = [(name, traceback_tail(self.log_text(name), lines=8)) for name in (MODEL_LOG, MMS_LOG)]
            found = [(name, tail) for name, tail in found if tail]
            if any(not tail[-1][:1].isspace() for _, tail in found) or time.monotonic() > deadline:
                return found[0] if found else ("", [])
            time.sleep(0.2)

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /models``: every registered model's name and url."""
        response = http("GET", f"{self.management_url}/models?limit=1000")
        if response.status != 200:
            raise ServerError(self.explain(response))
        return response.json().get("models", [])

    def model_name_for(self, url: str) -> str:
        """The name the server registered ``url`` under."""
        for model in self.list_models():
            if model.get("modelUrl") == url:
                return model["modelName"]
        raise ServerError(f"no registered model has url {url!r}")

    def scale(self, name: str, min_worker: int, max_worker: int | None = None) -> Response:
        query = {"min_worker": min_worker, "max_worker": max_worker or min_worker, "synchronous": "true"}
        return http("PUT", f"{self.management_url}/models/{name}?{urllib.parse.urlencode(query)}")

    def describe(self, name: str) -> dict[str, Any]:
        response = http("GET", f"{self.management_url}/models/{name}")
        if response.status != 200:
            raise ServerError(self.explain(response))
        return response.json()

    def unregister(self, name: str) -> Response:
        return http("DELETE", f"{self.management_url}/models/{name}")

    # -- inference API -------------------------------------------------------

    def prediction_url(self, name: str) -> str:
        return f"{self.inference_url}/predictions/{name}"

    def predict(self, name: str, body: bytes, content_type: str = "application/octet-stream") -> Response:
        """``POST /predictions/NAME`` with the raw body, as a client would send a file."""
        return http("POST", self.prediction_url(name), body, content_type=content_type)

    # -- diagnostics ---------------------------------------------------------

    def log_text(self, name: str = MMS_LOG) -> str:
        path = self.log_dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def logs_excerpt(self, lines: int = 80) -> str:
        """The tail of every log this server wrote, for failure messages."""
        parts = []
        # frontend.out repeats mms_log.log on the console; it only helps when start-up failed.
        names = (MMS_LOG, MODEL_LOG) if self.log_text(MMS_LOG) else (FRONTEND_OUT,)
        for name in names:
            tail = self.log_text(name).splitlines()[-lines:]
            if tail:
                parts.append(f"--- {self.log_dir / name} (last {len(tail)} lines) ---")
                parts.extend(tail)
        return "\n".join(parts) or f"(no logs in {self.log_dir})"

    def explain(self, response: Response) -> str:
        """A failure message: the HTTP answer followed by the server's logs."""
        return f"HTTP {response.status}: {response.text[:2000]}\n{self.logs_excerpt()}"


def _is_worker(proc: Any) -> bool:
    try:
        return any(part.endswith(WORKER_SCRIPT) for part in proc.cmdline())
    except Exception:  # noqa: BLE001 - a process that vanished or is not ours to read is not a worker
        return False


def _parent_pid(proc: Any) -> int | None:
    try:
        return proc.ppid()
    except Exception:  # noqa: BLE001 - vanished
        return None


def _quietly(action: Any) -> None:
    import psutil

    try:
        action()
    except psutil.NoSuchProcess:
        pass


def _check_port(port: int) -> None:
    if not 1 <= port <= MAX_PORT:
        raise UsageError(f"port {port} is out of range: MMS needs ports below {MAX_PORT + 1}")
    if not port_is_free(port):
        raise UsageError(f"port {port} on 127.0.0.1 is taken; choose another with --port")


@contextmanager
def running_server(base: Path, *, python: Path | str | None = None, env: Mapping[str, str] | None = None,
                   attempts: int = 3, port: int | None = None,
                   response_timeout: int = 120) -> Iterator[MMSServer]:
    """An MMS rooted at ``base`` (created), stopped on exit whatever happens.

    ``python`` is the interpreter whose ``mms`` package runs the server and its
    workers (default: this interpreter). ``port`` fixes the inference port
    (the management port is picked); otherwise start-up is retried on fresh
    ports, since another process may take a port between our probe and
    Java's bind. Raises :class:`ServerError` when MMS or Java is missing.
    """
    missing = server_missing_reason() if python is None else java_missing_reason()
    if missing:
        raise ServerError(missing)
    interpreter = Path(python or sys.executable)
    server: MMSServer | None = None
    tries = 1 if port else attempts
    for attempt in range(1, tries + 1):
        if port:
            _check_port(port)
            inference, management = port, pick_ports(1, exclude=(port,))[0]
        else:
            inference, management = pick_ports(2)
        server = MMSServer(base / f"server-{attempt}", interpreter, inference, management,
                           response_timeout=response_timeout)
        try:
            server.start(env)
            break
        except ServerError:
            server.stop()
            if attempt == tries:
                raise
            log.warning("MMS start-up attempt %d failed; retrying on other ports", attempt)
    assert server is not None
    try:
        yield server
    finally:
        server.stop()
