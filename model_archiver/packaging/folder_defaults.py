"""What the model folder already says about ``--model-name`` and ``--handler``.

Two jobs, both answering "what did the user mean, given these files?":

- defaults: when the folder holds exactly one ``NAME-symbol.json`` prefix and
  exactly one handler candidate (a root ``.py`` with a module-level ``handle``,
  or with exactly one class that defines ``handle``), the flags can be left
  out; an ambiguous folder is an error that lists the candidates;
- hints: a ``--handler`` that names no root module gets the likely fix
  (``mod.func`` → ``mod:func``, a file path → its module name, a handler one
  folder down → ``--model-path DIR/SUB``).

Values given on the command line (or by a build config file) always win:
callers only ask for what is still ``None``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from model_archiver.errors import UsageError
from model_archiver.validation.handler import DEFAULT_ENTRY, HandlerSpec, check_handler_source
from model_archiver.validation.model_files import find_checkpoints


@dataclass(frozen=True)
class FolderDefaults:
    """The resolved values and which of them came from the folder (for the one-line report)."""

    model_name: str
    handler: str
    inferred: tuple[str, ...] = ()

    def note(self, model_dir: Path) -> Optional[str]:
        """``inferred from DIR: --model-name digits, --handler digits_service:handle`` or None."""
        if not self.inferred:
            return None
        values = {"--model-name": self.model_name, "--handler": self.handler}
        return f"inferred from {model_dir}: " + ", ".join(f"{flag} {values[flag]}" for flag in self.inferred)


def resolve(model_dir: Path, model_name: Optional[str], handler: Optional[str],
            excludes: Sequence[str] = ()) -> FolderDefaults:
    """Fill in whichever of ``model_name`` / ``handler`` is None from the folder's files.

    Raises :class:`UsageError` naming the candidates when the folder does not
    decide; nothing is read when both values are given.
    """
    if model_name is not None and handler is not None:
        return FolderDefaults(model_name, handler)
    check_model_path(model_dir)
    names = _root_names(model_dir, excludes)
    inferred: list[str] = []
    if model_name is None:
        model_name = infer_model_name(model_dir, names)
        inferred.append("--model-name")
    if handler is None:
        handler = infer_handler(model_dir, names)
        inferred.append("--handler")
    return FolderDefaults(model_name, handler, tuple(inferred))


def infer_model_name(model_dir: Path, names: Sequence[str]) -> str:
    """The single checkpoint prefix at the root, or a UsageError listing what was found."""
    symbols, _ = find_checkpoints(list(names))
    if len(symbols) == 1:
        return next(iter(symbols))
    if not symbols:
        raise UsageError(f"--model-name is required: {model_dir} has no NAME-symbol.json to take it from"
                         + _one_folder_down(model_dir, "*-symbol.json"))
    listed = ", ".join(sorted(symbols))
    raise UsageError(f"--model-name is required: {model_dir} has {len(symbols)} checkpoints ({listed}); "
                     f"pass --model-name with one of them")


def infer_handler(model_dir: Path, names: Sequence[str]) -> str:
    """The single root module with an entry point MMS would call, or a UsageError listing candidates."""
    candidates = [c for name in sorted(names) if name.endswith(".py") and "/" not in name
                  for c in [_entry_point(model_dir / name, name[:-3])] if c]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UsageError(f"--handler is required: no .py file at the root of {model_dir} defines a module-level "
                         "'handle' or one class with a 'handle' method"
                         + _one_folder_down(model_dir, "*.py", lambda path: _entry_point(path, path.stem) is not None))
    raise UsageError(f"--handler is required: {model_dir} has {len(candidates)} handler candidates "
                     f"({', '.join(candidates)}); pass --handler with one of them")


def _entry_point(path: Path, module: str) -> Optional[str]:
    """``module:handle`` for a clean module-level handle, ``module`` for one class defining handle."""
    try:
        source = path.read_bytes()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    if not check_handler_source(HandlerSpec.parse(f"{module}:{DEFAULT_ENTRY}"), path.name, source):
        return f"{module}:{DEFAULT_ENTRY}"
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    if len(classes) == 1 and any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == DEFAULT_ENTRY
                                 for n in classes[0].body):
        return module
    return None


def handler_hint(model_dir: Path, handler: str) -> Optional[str]:
    """The fix for a ``--handler`` that names no module at the root, or None when it does (or no fix is known).

    Looks only at the few paths the handler could mean (no walk), so every build can afford it.
    """
    root = Path(model_dir)
    module_part, colon, function = handler.partition(":")
    stem = module_part[:-3] if module_part.endswith(".py") else module_part
    if "/" in stem or "\\" in stem:
        last = stem.replace("\\", "/").rstrip("/").split("/")[-1]
        if (root / f"{last}.py").is_file():
            return (f"--handler takes a module name at the model path's root, not a file path: "
                    f"did you mean --handler {last}{colon}{function}?")
        return None
    dotted = stem.replace(".", "/")
    if (root / f"{dotted}.py").is_file() or (root / dotted / "__init__.py").is_file():
        return None
    if not colon and "." in stem:
        module, _, func = stem.rpartition(".")
        if (root / f"{module}.py").is_file():
            return f"--handler separates module and function with ':': did you mean --handler {module}:{func}?"
    nested = sorted(path for path in root.glob(f"*/{stem}.py") if not path.parent.name.startswith("."))
    if len(nested) == 1:
        return (f"{stem}.py is one folder down, in {nested[0].parent.name}/: did you mean "
                f"--model-path {nested[0].parent}?")
    return None


def check_model_path(model_dir: Path) -> None:
    """``--model-path`` must be an existing folder; say which it is not, and the likely fix."""
    path = Path(model_dir)
    if path.is_dir():
        return
    if not path.exists():
        raise UsageError(f"model path {str(path)!r} does not exist; check --model-path for a typo")
    raise UsageError(f"model path {str(path)!r} is a file, not a folder; pass the folder that holds it: "
                     f"--model-path {path.parent}")


def _one_folder_down(model_dir: Path, pattern: str, accept: Callable[[Path], bool] = lambda path: True) -> str:
    """``; did you mean --model-path DIR/SUB?`` when exactly one subfolder holds what the root lacks."""
    folders = sorted({path.parent for path in Path(model_dir).glob(f"*/{pattern}")
                      if not path.parent.name.startswith((".", "_")) and accept(path)})
    return f"; did you mean --model-path {folders[0]}?" if len(folders) == 1 else ""


def _root_names(model_dir: Path, excludes: Sequence[str]) -> list[str]:
    from model_archiver.packaging.collect import collect_files

    return [f.arcname for f in collect_files(Path(model_dir), excludes=excludes)]
