"""The ``model-archiver`` command: a thin click layer over the library.

Subcommands are imported only when used, so ``model-archiver inspect`` never
pays for ONNX or MXNet imports. The bare MMS 1.0.x form
(``model-archiver --model-name ... --model-path ... --handler ...``) is routed to
``build`` so existing scripts keep working.
"""
from __future__ import annotations

import importlib
from typing import Any

import click

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

    Without a subcommand the MMS 1.0.x flags build an archive:
    model-archiver --model-name NAME --model-path DIR --handler MODULE[:FUNC]
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="model-archiver")
