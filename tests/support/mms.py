"""Start, drive and always stop an isolated Multi Model Server (MMS 1.x) for tests.

Each server gets its own ports (20000-31999: MMS refuses ports above 32767, so
OS-assigned ephemeral ports never work), its own TEMP/TMPDIR (the worker
sockets, extracted archives and MMS's pid file live there, and two servers
sharing them collide), its own model store and its own log directory. The
frontend binds only 127.0.0.1.

The worker's Python is the interpreter that runs ``mms.model_server`` (MMS
passes ``sys.executable`` to the Java frontend as ``--python``), so the server
is started with the interpreter of the environment under test, and that
environment's ``bin`` goes first on ``PATH`` for manifests with
``runtime: python3`` (which MMS resolves through ``PATH``).

The server is stopped by the process group of the process we started - never
with ``multi-model-server --stop``, which kills whatever pid a shared pid file
names. HTTP goes through urllib so the helper needs nothing beyond the
standard library and psutil.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import psutil

log = logging.getLogger(__name__)

PORT_RANGE = (20000, 31999)
MMS_LOG = "mms_log.log"
MODEL_LOG = "model_log.log"
FRONTEND_OUT = "frontend.out"  # the launcher's and the JVM's console
STARTUP_TIMEOUT = 90.0
REQUEST_TIMEOUT = 120.0


class ServerError(RuntimeError):
    """The server could not be started or answered in a way a test cannot use."""


def java_missing_reason() -> str | None:
    """Why the real server cannot run here (no Java), or None when it can."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return "the real Multi Model Server needs Java (set JAVA_HOME or put java on PATH)"
    return None


@dataclass(frozen=True)
class Response:
    """One HTTP answer: status, raw body and headers (lower-case names)."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http(method: str, url: str, body: bytes | None = None, *, content_type: str | None = None,
         timeout: float = REQUEST_TIMEOUT) -> Response:
    """Send one request; HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(), _headers(answer.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), _headers(error.headers))


def _headers(message: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in message.items()} if message else {}


def importable_by_workers(*packages: str) -> dict[str, str]:
    """An env (``PYTHONPATH``) under which workers import ``packages`` from where we do.

    Until the project is pip-installed, ``service_sdk`` lives only in the
    source tree; pointing workers at the same folder serves the code under test.
    """
    roots: list[str] = []
    for name in packages:
        root = str(Path(importlib.import_module(name).__file__).resolve().parent.parent)
        if root not in roots:
            roots.append(root)
    return {"PYTHONPATH": os.pathsep.join(roots)}


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int = 2) -> list[int]:
    """``count`` distinct ports in PORT_RANGE that are free right now."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(*PORT_RANGE)
        if port not in chosen and _port_is_free(port):
            chosen.append(port)
    return chosen


@dataclass
class MMSServer:
    """A running server and the directories it owns."""

    base: Path
    python: Path
    inference_port: int
    management_port: int
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def model_store(self) -> Path:
        return self.base / "model-store"

    @property
    def log_dir(self) -> Path:
        return self.base / "logs"

    @property
    def temp_dir(self) -> Path:
        return self.base / "tmp"

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
                "default_response_timeout=120",
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
                raise ServerError(f"MMS exited during start-up\n{self.logs_excerpt()}")
            try:
                if http("GET", f"{self.inference_url}/ping", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise ServerError(f"MMS did not answer /ping within {timeout:.0f}s\n{self.logs_excerpt()}")

    def stop(self, grace: float = 10.0) -> None:
        """Terminate our process tree (frontend, workers); kill what outlives ``grace``."""
        if self.process is None:
            return
        pid = self.process.pid
        try:
            tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
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
        log.info("stopped MMS pid %s", pid)

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        """Our server leads its own session, so its group id is its pid."""
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def process_tree(self) -> list[psutil.Process]:
        """Every live process we started (frontend and its workers)."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    # -- management API ------------------------------------------------------

    def add_archive(self, archive: Path) -> str:
        """Put ``archive`` (file or unarchived folder) in the model store; return its store-relative url.

        An archive built straight into the store is used in place.
        """
        target = self.model_store / archive.name
        if target.exists() and target.resolve() == archive.resolve():
            return archive.name
        if archive.is_dir():
            shutil.copytree(archive, target, dirs_exist_ok=True)
        else:
            shutil.copy2(archive, target)
        return archive.name

    def register(self, url: str, *, batch_size: int = 1, max_batch_delay: int = 100,
                 initial_workers: int = 1, model_name: str | None = None,
                 response_timeout: int | None = None) -> Response:
        """Register an archive by its model-store-relative ``url``, waiting for the workers."""
        query = {"url": url, "batch_size": batch_size, "max_batch_delay": max_batch_delay,
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
            raise ServerError(f"registering {archive.name} failed\n{self.explain(response)}")
        return self.model_name_for(url)

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

    def predict(self, name: str, body: bytes, content_type: str = "application/octet-stream") -> Response:
        """``POST /predictions/NAME`` with the raw body, as a client would send a file."""
        return http("POST", f"{self.inference_url}/predictions/{name}", body, content_type=content_type)

    # -- diagnostics ---------------------------------------------------------

    def log_text(self, name: str = MMS_LOG) -> str:
        path = self.log_dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def logs_excerpt(self, lines: int = 80) -> str:
        """The tail of every log this server wrote, for assertion messages."""
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


def _quietly(action: Any) -> None:
    try:
        action()
    except psutil.NoSuchProcess:
        pass


@contextmanager
def running_server(base: Path, *, python: Path | str | None = None,
                   env: Mapping[str, str] | None = None, attempts: int = 3) -> Iterator[MMSServer]:
    """An MMS rooted at ``base`` (created), stopped on exit whatever happens.

    ``python`` is the interpreter whose ``mms`` package runs the server and its
    workers (default: this interpreter). Start-up is retried on fresh ports,
    since another process may take a port between our probe and Java's bind.
    """
    interpreter = Path(python or sys.executable)
    server: MMSServer | None = None
    for attempt in range(1, attempts + 1):
        inference, management = pick_ports(2)
        server = MMSServer(base / f"server-{attempt}", interpreter, inference, management)
        try:
            server.start(env)
            break
        except ServerError:
            server.stop()
            if attempt == attempts:
                raise
            log.warning("MMS start-up attempt %d failed; retrying on other ports", attempt)
    assert server is not None
    try:
        yield server
    finally:
        server.stop()
