"""``model-archiver serve``: archives in a real Multi Model Server, until Ctrl-C or SIGTERM."""
from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import click

from model_archiver.cli.output import handle_errors, setup_logging
from model_archiver.errors import UsageError

LOG_POLL_SECONDS = 0.5
EXAMPLES = """
\b
Examples:
  model-archiver serve digits.mar
  model-archiver serve resnet-152.mar other-model/ --port 8080 --workers 2 --omp-threads 1
"""


class _Stop(Exception):
    """SIGTERM arrived: leave the serving loop and stop the server like Ctrl-C does."""


@click.command("serve", epilog=EXAMPLES)
@click.argument("archives", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(1, 32767),
              help="Inference port on 127.0.0.1 (MMS needs < 32768)  [default: a free port in 20000-31999]")
@click.option("--workers", type=click.IntRange(min=1),
              help="Workers per model  [default: the archive's serving settings, else 1]")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Server-side batch size  [default: the archive's serving settings, else 1]")
@click.option("--max-batch-delay", "max_batch_delay_ms", type=click.IntRange(min=0),
              help="Milliseconds to wait to fill a batch  [default: the archive's serving settings, else 100]")
@click.option("--omp-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="OMP_NUM_THREADS of every worker process.")
@click.option("--timeout", "response_timeout_s", type=click.IntRange(min=1),
              help="Seconds a prediction may take  [default: the archive's serving settings, else 120]")
@click.option("--log/--no-log", "stream_log", default=True, show_default=True,
              help="Stream a short form of the server's log.")
@click.option("-v", "--verbose", count=True, help="Show the library's log.")
@handle_errors
def serve(archives: tuple[Path, ...], port: Optional[int], workers: Optional[int], batch_size: Optional[int],
          max_batch_delay_ms: Optional[int], omp_threads: int, response_timeout_s: Optional[int],
          stream_log: bool, verbose: int) -> None:
    """Serve ARCHIVES (.mar, .tar.gz or folders) in an isolated Multi Model Server.

    The server binds 127.0.0.1 only, with its own model store, temp and log
    folders (removed on exit). Prints each model's prediction URL and a curl
    command once its workers are ready, then the server's log, until Ctrl-C
    or SIGTERM stops it and all its workers. Exits 7 when the server cannot
    start or an archive fails to register (with the worker's traceback).
    """
    from model_archiver.server.process import importable_by_workers, running_server
    from model_archiver.server.settings import read_manifest, settings_from_manifest

    setup_logging(verbose=verbose)
    plans = []
    for archive in archives:
        settings = settings_from_manifest(read_manifest(archive)).override(
            workers=workers, batch_size=batch_size, max_batch_delay_ms=max_batch_delay_ms,
            response_timeout_s=response_timeout_s)
        plans.append((archive, settings))
    _unique_names(archives)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    env = {**importable_by_workers("service_sdk"), "OMP_NUM_THREADS": str(omp_threads)}
    timeout = max(settings.response_timeout_s for _, settings in plans)
    try:
        with tempfile.TemporaryDirectory(prefix="model-archiver-serve-") as base, \
                running_server(Path(base), env=env, port=port, response_timeout=timeout) as server:
            click.echo(f"Multi Model Server on {server.inference_url} (management {server.management_url}), "
                       f"logs in {server.log_dir}")
            for archive, settings in plans:
                name = server.serve(archive, **settings.register_options())
                click.echo(f"{name}: {settings.workers} worker(s) ready, batch size {settings.batch_size}, "
                           f"OMP_NUM_THREADS={omp_threads}")
                click.echo(f"  POST {server.prediction_url(name)}")
                click.echo(f"  curl -X POST {server.prediction_url(name)} -T INPUT_FILE")
            click.echo("serving; press Ctrl-C to stop")
            _follow_logs(server, stream_log)
    except (KeyboardInterrupt, _Stop):
        click.echo("stopped", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop()


def _unique_names(archives: tuple[Path, ...]) -> None:
    """Two archives with one file name would overwrite each other in the model store."""
    seen: dict[str, Path] = {}
    for archive in archives:
        if archive.name in seen:
            raise UsageError(f"{seen[archive.name]} and {archive} have the same name; rename one")
        seen[archive.name] = archive


def _follow_logs(server: Any, stream: bool) -> None:
    """Print new lines of the server's and the workers' logs (short form) until interrupted."""
    from model_archiver.server.process import MMS_LOG, MODEL_LOG, short_log_line

    offsets = {name: _size(server.log_dir / name) for name in (MMS_LOG, MODEL_LOG)}
    while True:
        time.sleep(LOG_POLL_SECONDS)
        if server.process is None or server.process.poll() is not None:
            raise UsageError("the server exited unexpectedly; see its log above")
        if not stream:
            continue
        for name, offset in offsets.items():
            path = server.log_dir / name
            if _size(path) <= offset:
                continue
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk.rfind(b"\n") + 1
            offsets[name] = offset + complete
            for raw in chunk[:complete].decode("utf-8", errors="replace").splitlines():
                line = short_log_line(raw)
                if line:
                    click.echo(f"[{name.split('_')[0]}] {line}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
