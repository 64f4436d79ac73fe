"""The ``model-archiver`` command: a thin click layer over the library.

Subcommands are imported only when used, so ``model-archiver inspect`` never
pays for ONNX or MXNet imports. The bare MMS 1.0.x form
(``model-archiver --model-name ... --model-path ... --handler ...``) is routed to
``build`` so existing scripts keep working.
"""
from __future__ import annotations

import _signal  # the C module: `import signal` builds enums, too slow for the first handler
import os
import sys


def _exit_quietly(signum: int, frame: object) -> None:
    """Ctrl-C while the CLI is still importing: nothing to clean up, so one line and 128 + n."""
    os.write(2, b"model-archiver: error: interrupted\n")
    os._exit(128 + signum)


# Only when this process *is* the CLI (console script or `python -m model_archiver`), never when a
# program or test imports it; main() replaces the handler once commands can clean up.
if os.path.basename(sys.argv[0] if sys.argv else "") in ("model-archiver", "__main__.py"):
    _signal.signal(_signal.SIGINT, _exit_quietly)

import importlib  # noqa: E402 - after the handler, so an early Ctrl-C never prints a traceback
from typing import Any  # noqa: E402

import click  # noqa: E402

from model_archiver import __version__

# name -> "module:attribute"; each module holds one subcommand.
_COMMANDS = {
    "build": "model_archiver.cli.build_cmd:build",
    "inspect": "model_archiver.cli.inspect_cmd:inspect",
    "verify": "model_archiver.cli.verify_cmd:verify",
    "validate": "model_archiver.cli.validate_cmd:validate",
    "import-onnx": "model_archiver.cli.import_onnx_cmd:import_onnx",
    "run": "model_archiver.cli.run_cmd:run",
    "init": "model_archiver.cli.init_cmd:init",
    "sign": "model_archiver.cli.sign_cmd:sign",
    "diff": "model_archiver.cli.diff_cmd:diff",
    "quantize": "model_archiver.cli.quantize_cmd:quantize",
    "serve": "model_archiver.cli.serve_cmd:serve",
    "smoke-test": "model_archiver.cli.smoke_test_cmd:smoke_test",
    "bench": "model_archiver.cli.bench_cmd:bench",
}
_GROUP_ONLY = {"--help", "-h", "--version"}


class _ArchiverGroup(click.Group):
    """Lazy subcommands, and ``build`` as the command when none is named."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and args[0] not in _GROUP_ONLY:
            args = ["build", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ArchiverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="model-archiver")
def cli() -> None:
    """Build, validate, inspect, verify and run Multi Model Server model archives.

    \b
    Without a subcommand the MMS 1.0.x flags build an archive:
      model-archiver --model-name NAME --model-path DIR --handler MODULE[:FUNC]
    Those MMS-style flags are all described in `model-archiver build --help`.
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point; a stop signal anywhere ends in one line and exit 128 + n."""
    from model_archiver.cli.output import Interrupted, install_signal_handlers

    install_signal_handlers()
    try:
        return cli.main(args=argv, prog_name="model-archiver")
    except Interrupted as exc:
        click.echo(f"model-archiver: error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
