"""Read ``model-archiver.toml``: build options spelled as their command-line flags, plus serving settings.

One file replaces a long command line in every CI script. Keys are the flags
without their dashes (``model-name``, ``exclude``, ...), so a command line and
a config file translate one to one; ``[serving]`` holds the recommended server
settings, stored in the manifest at ``model.extensions.serving`` for whatever
starts a server from the archive. The file is checked against
``schemas/build-config.schema.json``; an unknown key is an error naming the
file and line, because a misspelt option silently ignored is a wrong archive.
"""
from __future__ import annotations

import os
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[no-redef]
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_archiver.errors import UsageError
from model_archiver.request_examples import ExampleSpec
from model_archiver.safety.run_inputs import check_regular_file
from model_archiver.schema import schema_errors

CONFIG_FILE_NAME = "model-archiver.toml"
MAX_CONFIG_BYTES = 1024 * 1024  # a build config is a page of settings, not data
KEY_PASSWORD_ENV = "MODEL_ARCHIVER_KEY_PASSWORD"

# config key -> name of the ``build`` command's parameter (and of the Python API's keyword).
_PARAMS = {
    "model-name": "model_name", "model-path": "model_path", "handler": "handler", "runtime": "runtime",
    "export-path": "export_path", "archive-format": "archive_format", "force": "force", "convert": "convert",
    "input-type": "input_type", "input-shape": "input_shapes", "model-version": "model_version", "description": "description",
    "author": "author", "email": "email", "license": "license_", "engine": "engine_name",
    "engine-version": "engine_version", "exclude": "excludes", "compression": "compression_policy",
    "tgz-layout": "tgz_layout", "vendor-sdk": "vendor_sdk", "no-validate": "no_validate", "strict": "strict",
    "check-import": "check_import", "check-shapes": "check_shapes", "requirements": "requirements",
    "platform": "platforms", "python-version": "python_version", "only-binary": "only_binary",
    "sign-key": "sign_key", "sign-certificate": "sign_certificate",
    "sign-certificate-chain": "sign_certificate_chain", "example": "examples", "serving": "serving",
    # build --quantize int8 (model_archiver.quantization) and the validation limits
    "quantize": "quantize_dtype", "calibration": "calibration", "calib-mode": "calib_mode",
    "calib-count": "calib_count", "exclude-layers": "exclude_layers", "no-default-exclusions": "no_default_exclusions",
    "eval": "eval_path", "min-agreement": "min_agreement", "max-accuracy-drop": "max_accuracy_drop",
    "import-timeout": "import_timeout",
}
_PATH_KEYS = {"model-path", "export-path", "requirements", "sign-key", "sign-certificate", "calibration", "eval"}
# Options the command line turns into objects before building (quantization, limits).
_CLI_ONLY = {"quantize_dtype", "calibration", "calib_mode", "calib_count", "exclude_layers", "no_default_exclusions",
             "eval_path", "min_agreement", "max_accuracy_drop", "import_timeout"}
_SERVING_KEYS = ("batch-size", "max-batch-delay-ms", "min-workers", "max-workers", "response-timeout-s")


@dataclass(frozen=True)
class BuildConfig:
    """A parsed config file: ``values`` by build parameter name, paths already made absolute."""

    path: Path
    values: dict[str, Any]


def find_config(model_path: Path | None) -> Path | None:
    """``model-archiver.toml`` in the model folder, if there is one."""
    if model_path is None:
        return None
    candidate = Path(model_path) / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def load_config(path: str | Path) -> BuildConfig:
    """Parse and check ``path``; raise :class:`UsageError` naming the file and line of the first problem."""
    path = Path(path)
    check_regular_file(path, "config file", MAX_CONFIG_BYTES)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply to be a build config") from None
    problems = schema_errors(document, "build-config")
    if problems:
        raise UsageError(_describe(path, text, *problems[0]))
    _check_workers(path, text, document.get("serving", {}))
    return BuildConfig(path, _values(document, path.parent.absolute()))


def serving_extension(serving: dict[str, Any] | None) -> dict[str, int]:
    """The manifest's ``model.extensions.serving`` (snake_case keys) from the ``[serving]`` table."""
    return {key.replace("-", "_"): value for key, value in (serving or {}).items()}


def build_from_config(path: str | Path, **overrides: Any):
    """Build the archive ``path`` describes; keyword ``overrides`` win (as command-line flags do).

    ``overrides`` use :func:`~model_archiver.build_archive`'s keywords, plus
    ``model_path``. Returns the :class:`ArchiveResult`.
    """
    from model_archiver.packaging.builder import build_archive

    values = dict(load_config(path).values)
    cli_only = sorted(k for k, v in _PARAMS.items() if v in _CLI_ONLY and v in values)
    if cli_only:
        raise UsageError(f"{path}: {', '.join(cli_only)} need the command line: model-archiver build --config {path}")
    values["license"] = values.pop("license_", None)
    if values.pop("no_validate", False):
        values["validate"] = False
    if values.pop("vendor_sdk", False):
        from model_archiver.packaging.vendor import sdk_files

        values["extra_files"] = sdk_files()
    values = to_library_options(values)
    values.update(overrides)
    model_path = values.pop("model_path", None) or Path(path).parent
    values["excludes"] = without_config_file(values.get("excludes") or (), Path(path), Path(model_path))
    return build_archive(model_path, **{k: v for k, v in values.items() if v is not None})


def to_library_options(options: dict[str, Any]) -> dict[str, Any]:
    """Fold the pip flags into ``pip_options`` and the signing flags into ``signing`` (what build_archive takes).

    The key's password, if any, comes from ``$MODEL_ARCHIVER_KEY_PASSWORD`` (never a flag or a file).
    """
    options = dict(options)
    platforms, version, binary = (options.pop("platforms", ()), options.pop("python_version", None),
                                  options.pop("only_binary", None))
    if platforms or version or binary:
        if options.get("requirements") is None:
            raise UsageError("--platform/--python-version/--only-binary only apply with --requirements")
        from model_archiver.dependencies import PipOptions

        options["pip_options"] = PipOptions(tuple(platforms), version, binary)
    key, cert, chain = (options.pop("sign_key", None), options.pop("sign_certificate", None),
                        options.pop("sign_certificate_chain", ()))
    if key is None and (cert or chain):
        raise UsageError("--sign-certificate/--sign-certificate-chain need --sign-key")
    if key is not None:
        from model_archiver.signing.identity import SigningIdentity

        options["signing"] = SigningIdentity(key=Path(key), password=os.environ.get(KEY_PASSWORD_ENV),
                                             certificate=cert, certificate_chain=tuple(chain))
    return options


def without_config_file(excludes: tuple[str, ...], config_path: Path, model_path: Path) -> tuple[str, ...]:
    """``excludes`` plus the config file when it sits in the model folder: it describes the build, not the model."""
    if config_path.absolute().parent == model_path.absolute():
        return (*excludes, config_path.name)
    return tuple(excludes)


def _values(document: dict[str, Any], base: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key in _PATH_KEYS:
            value = _under(base, value)
        elif key == "sign-certificate-chain":
            value = tuple(_under(base, item) for item in value)
        elif key in ("exclude", "platform", "exclude-layers"):
            value = tuple(value)
        elif key == "example":
            value = tuple(ExampleSpec(_under(base, e["input"]), _under(base, e["expect"]) if "expect" in e else None,
                                      e.get("content-type")) for e in value)
        elif key == "serving":
            value = serving_extension(value)
        elif key == "input-shape":
            value = {name: list(dims) for name, dims in value.items()}
        values[_PARAMS[key]] = value
    return values


def _under(base: Path, value: str) -> Path:
    """``value`` relative to the config file's folder (``..`` folded, symlinks kept)."""
    return Path(os.path.normpath(base / value))


def _check_workers(path: Path, text: str, serving: dict[str, Any]) -> None:
    low, high = serving.get("min-workers"), serving.get("max-workers")
    if low is not None and high is not None and low > high:
        line = _line_of(text, "min-workers", "serving")
        raise UsageError(f"{path}:{line}: serving.min-workers ({low}) is larger than max-workers ({high})")


def _describe(path: Path, text: str, json_path: str, message: str) -> str:
    """``FILE:LINE: what is wrong``; the line is found by the key's name (tomllib keeps no positions)."""
    parts = [p for p in re.split(r"\.|\[\d+\]", json_path.lstrip("$")) if p]
    unknown = re.search(r"'([^']+)' was unexpected", message)
    if unknown:
        key = unknown.group(1)
        line = _line_of(text, key, parts[0] if parts else None)
        known = ", ".join(_SERVING_KEYS) if parts == ["serving"] else None
        hint = f" (known: {known})" if known else " (keys are the build flags without dashes, e.g. model-name)"
        return f"{path}:{line}: unknown key {'.'.join(parts + [key])!r}{hint}"
    key = parts[-1] if parts else ""
    line = _line_of(text, key, parts[0] if len(parts) > 1 else None)
    return f"{path}:{line}: {'.'.join(parts) or 'file'}: {message}"


def _line_of(text: str, key: str, table: str | None) -> int:
    """The 1-based line where ``key`` is assigned (inside ``[table]`` when given), else 1."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    current: str | None = None
    fallback = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            current = header.group(1).strip("\"'")
            continue
        if pattern.match(line):
            if current == table:
                return number
            fallback = fallback or number
    return fallback or 1
