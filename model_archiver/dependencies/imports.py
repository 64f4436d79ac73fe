"""Warn about handler imports nothing will provide on the server.

MMS installs nothing at load, so a handler that imports ``requests`` works on
the build machine and fails on the server. A top-level import is fine when the
module is in the archive, in its vendored ``lib/``, in the standard library
(``sys.stdlib_module_names``) or provided by the serving stack itself
(:data:`SERVER_PROVIDED`); anything else gets a warning. Imports guarded by
``try/except ImportError`` are optional by intent and skipped.
"""
from __future__ import annotations

import ast
import sys
from pathlib import PurePosixPath
from typing import Iterable

from model_archiver.dependencies.bootstrap import LIB_DIR
from model_archiver.sources import FileSource
from model_archiver.validation.report import Problem, warning

# MMS 1.1.11's own runtime (the worker, MXNet, numpy, Pillow) and this project's SDK
# (installed with model-archiver, or vendored with --vendor-sdk).
SERVER_PROVIDED = frozenset({"mms", "model_server", "mxnet", "numpy", "PIL", "service_sdk", "onnxruntime"})
_SKIPPED_TREES = (f"{LIB_DIR}/", "service_sdk/", "MAR-INF/")


def undeclared_imports(source: FileSource, extra_modules: Iterable[str] = ()) -> list[Problem]:
    """A warning per (file, module) imported at top level and provided by nothing."""
    names = source.names()
    provided = _archive_modules(names) | set(extra_modules) | _stdlib_modules() | SERVER_PROVIDED
    problems = []
    for name in names:
        if not name.endswith(".py") or name.startswith(_SKIPPED_TREES):
            continue
        with source.open(name) as handle:
            modules = _imported_modules(handle.read())
        for module in sorted(modules - provided):
            problems.append(warning(name, f"imports {module!r}, which is not in the archive, its requirements "
                                          "or the standard library; add it to --requirements",
                                    "imports.undeclared"))
    return problems


def _stdlib_modules() -> set[str]:
    """``sys.stdlib_module_names`` (3.10+); on 3.9, the top-level modules found in the stdlib folder."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return set(names)
    import pkgutil
    import sysconfig

    found = {m.name for m in pkgutil.iter_modules([sysconfig.get_paths()["stdlib"]])}
    return found | set(sys.builtin_module_names)


def _archive_modules(names: list[str]) -> set[str]:
    """Top-level importable names: root modules and folders, and those inside ``lib/``."""
    modules = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if parts[0] == LIB_DIR and len(parts) > 1:
            parts = parts[1:]
        modules.add(parts[0].split(".", 1)[0] if len(parts) == 1 else parts[0])
    return modules


def _imported_modules(code: bytes) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()  # the handler checks report syntax errors
    guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) and _catches_import_error(t)
               for stmt in t.body for n in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
        if handler.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError",
                                                                             "Exception") for n in names):
            return True
    return False
