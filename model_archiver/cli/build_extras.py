"""``build`` options for the config file, requirements, example requests and signing, and their resolution.

Precedence for every option: command line > config file > default (for
``--model-name``/``--handler``: > inferred from the model folder). The config
file is ``--config FILE`` or ``model-archiver.toml`` in the model folder.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import click
from click.core import ParameterSource

from model_archiver.config import find_config, load_config
from model_archiver.config.build_config import to_library_options, without_config_file
from model_archiver.errors import UsageError
from model_archiver.request_examples import ExampleSpec

log = logging.getLogger(__name__)

_FILE = click.Path(dir_okay=False, path_type=Path)
_OPTIONS = [
    click.option("--config", "config_file", type=_FILE,
                 help="Build config (TOML); default: model-archiver.toml in the model path, if present."),
    click.option("--requirements", "-r", type=_FILE,
                 help="pip requirements file, installed into the archive's lib/ (loaded first at run time)."),
    click.option("--platform", "platforms", multiple=True, metavar="TAG",
                 help="With -r: pip --platform of the server (repeatable), e.g. manylinux2014_x86_64."),
    click.option("--python-version", metavar="X.Y", help="With -r: pip --python-version of the server."),
    click.option("--only-binary", metavar="SPEC", help="With -r: pip --only-binary, e.g. :all:."),
    click.option("--example", "example_inputs", multiple=True, type=_FILE,
                 help="A request body stored in MAR-INF/examples/ (repeatable)."),
    click.option("--expect", "example_expects", multiple=True, type=_FILE,
                 help="Expected JSON answer for the --example just before it."),
    click.option("--sign-key", type=_FILE, help="Sign with this PEM private key (needs the 'signing' extra)."),
    click.option("--sign-certificate", type=_FILE, help="With --sign-key: its PEM signing certificate."),
    click.option("--sign-certificate-chain", multiple=True, type=_FILE,
                 help="With --sign-certificate: intermediate/root certificates (repeatable)."),
]


def extra_options(command: Callable) -> Callable:
    """Decorate the ``build`` command with this module's options."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


class OrderedBuildCommand(click.Command):
    """Remembers the order options came in, so each ``--expect`` pairs with the ``--example`` before it."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, rest, order = parse(args=args)
            ctx.meta["build_extras.order"] = [p.name for p in order]
            return opts, rest, order

        parser.parse_args = parse_args  # type: ignore[method-assign]
        return parser


def resolve(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """Merge the config file under the command line, and turn the extras into ``build_archive`` keywords."""
    config_path = options.pop("config_file") or find_config(options.get("model_path"))
    examples = _examples(ctx, options.pop("example_inputs"), options.pop("example_expects"))
    if examples:
        options["examples"] = examples
    if config_path is not None:
        config = load_config(config_path)
        log.info("using build config %s", config.path)
        for name, value in config.values.items():
            if name not in options or ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE:
                if name == "examples" and examples:
                    continue
                options[name] = value
        options["excludes"] = without_config_file(options.get("excludes") or (), config.path,
                                                  Path(options.get("model_path") or config.path.parent))
    _folder_defaults(options, quiet=bool(ctx.params.get("quiet") or ctx.params.get("as_json")))
    return to_library_options(options)


def _examples(ctx: click.Context, inputs: tuple[Path, ...], expects: tuple[Path, ...]) -> tuple[ExampleSpec, ...]:
    order = ctx.meta.get("build_extras.order", [])
    pairs: list[list[Path | None]] = []
    inputs_left, expects_left = list(inputs), list(expects)
    for name in order:
        if name == "example_inputs":
            pairs.append([inputs_left.pop(0), None])
        elif name == "example_expects":
            if not pairs or pairs[-1][1] is not None:
                raise UsageError("--expect must follow the --example it belongs to")
            pairs[-1][1] = expects_left.pop(0)
    return tuple(ExampleSpec(Path(i), Path(e) if e else None) for i, e in pairs)  # type: ignore[arg-type]


def _folder_defaults(options: dict[str, Any], *, quiet: bool) -> None:
    """``--model-name``/``--handler`` still unset: ask the model folder, which names them or explains why not."""
    if options.get("model_path") is None:
        raise UsageError("--model-path is required (on the command line or as model-path in the config file)")
    if options.get("model_name") is None or options.get("handler") is None:
        from model_archiver.packaging.folder_defaults import resolve as from_folder

        found = from_folder(Path(options["model_path"]), options.get("model_name"), options.get("handler"),
                            options.get("excludes") or ())
        options["model_name"], options["handler"] = found.model_name, found.handler
        note = found.note(Path(options["model_path"]))
        if note and not quiet:
            click.echo(note, err=True)  # a note, as `validate` prints it: not a warning
