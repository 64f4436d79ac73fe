"""Check the handler statically, by MMS's own loading rules, without importing it.

The MMS 1.x worker takes ``module[:function]``, drops a ``.py`` suffix, keeps
only what follows the last ``/`` and imports that module with the model
directory on ``sys.path``. With a function it calls that attribute; without
one it uses a module attribute ``handle`` if there is one, otherwise exactly
one class *defined in the module* (any class, helpers included), instantiated
with no arguments, whose ``handle`` method serves requests.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from model_archiver.validation.report import Problem, error, warning

DEFAULT_ENTRY = "handle"


@dataclass(frozen=True)
class HandlerSpec:
    """What MMS makes of a ``--handler`` value."""

    text: str
    module: str
    function: str | None

    @classmethod
    def parse(cls, handler: str) -> "HandlerSpec":
        module_part, _, function = handler.partition(":")
        if module_part.endswith(".py"):
            module_part = module_part[:-3]
        return cls(handler, module_part.split("/")[-1], function or None)

    @property
    def candidates(self) -> list[str]:
        """Archive names the import can resolve to, from the archive root."""
        base = self.module.replace(".", "/")
        return [f"{base}.py", f"{base}/__init__.py"]


@dataclass
class _ModuleFacts:
    """Module-level names and classes, as the module would define them when imported."""

    bound: dict[str, ast.AST] = field(default_factory=dict)
    classes: list[ast.ClassDef] = field(default_factory=list)
    star_import: bool = False


def locate_module(spec: HandlerSpec, names: list[str]) -> tuple[str | None, list[Problem]]:
    """The archive file MMS would import, or the problem explaining why there is none."""
    for candidate in spec.candidates:
        if candidate in names:
            return candidate, []
    written = spec.text.partition(":")[0]
    nested = written if written.endswith(".py") else f"{written}.py"
    if "/" in written and nested in names:
        return None, [error(nested, f"handler '{spec.text}': MMS imports module '{spec.module}' from the "
                                    f"archive root, not {nested}; move the file to the root",
                            "handler.not-at-root")]
    return None, [error(spec.candidates[0], f"handler '{spec.text}': no {spec.candidates[0]} in the model "
                                            "directory; add the handler file or fix --handler",
                        "handler.module-not-found")]


def check_handler_source(spec: HandlerSpec, file: str, source: bytes) -> list[Problem]:
    """Apply MMS's entry-point rules to the module's syntax tree."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        return [error(file, f"line {exc.lineno}: syntax error: {exc.msg}; the worker cannot import it",
                      "handler.syntax-error")]
    except ValueError as exc:  # e.g. null bytes
        return [error(file, f"not Python source ({exc})", "handler.syntax-error")]
    except (RecursionError, MemoryError):
        return [error(file, "nested too deeply for Python's parser; the worker cannot import it either",
                      "handler.syntax-error")]
    facts = _ModuleFacts()
    _collect(tree.body, facts)
    entry = spec.function or DEFAULT_ENTRY
    if entry in facts.bound:
        return _check_function(file, entry, facts.bound[entry])
    if spec.function:
        return [_missing_function(file, spec.function, facts.star_import)]
    return _check_class(file, facts)


def _collect(body: list[ast.stmt], facts: _ModuleFacts) -> None:
    """Record names bound at module level, descending into if/try/with/loop blocks."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            facts.bound[node.name] = node
        elif isinstance(node, ast.ClassDef):
            facts.bound[node.name] = node
            facts.classes.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    facts.star_import = True
                else:
                    facts.bound[alias.asname or alias.name.split(".")[0]] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        facts.bound[name.id] = node
        for block in ("body", "orelse", "finalbody"):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                _collect(getattr(node, block, []), facts)
        for handler in getattr(node, "handlers", []):
            _collect(handler.body, facts)


def _check_function(file: str, name: str, node: ast.AST) -> list[Problem]:
    """A ``def`` entry point must accept ``(data, context)``; other bindings are trusted."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required_kwonly = [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    if (positional >= 2 or args.vararg) and not required_kwonly:
        return []
    return [error(file, f"line {node.lineno}: {name}() must accept (data, context), which is how MMS calls it",
                  "handler.function-signature")]


def _missing_function(file: str, function: str, star_import: bool) -> Problem:
    if star_import:
        return warning(file, f"'{function}' is not defined here and may come from a 'from ... import *'; "
                             "import it by name so it can be checked", "handler.function-unverified")
    return error(file, f"no module-level '{function}' (the entry point --handler names); define it or fix "
                       "--handler", "handler.function-not-found")


def _check_class(file: str, facts: _ModuleFacts) -> list[Problem]:
    classes = facts.classes
    if not classes:
        if facts.star_import:
            return [warning(file, "no 'handle' function or service class defined here (a 'from ... import *' "
                                  "may provide 'handle'); define one explicitly", "handler.entry-unverified")]
        return [error(file, "no 'handle' function and no service class; define handle(data, context) or one "
                            "class with a handle method", "handler.no-entry-point")]
    if len(classes) > 1:
        listed = ", ".join(c.name for c in classes)
        return [error(file, f"defines {len(classes)} classes ({listed}) and no 'handle' function; MMS needs "
                            "exactly one class: move helpers to another module or add a module-level handle",
                      "handler.multiple-classes")]
    service = classes[0]
    methods = {n.name: n for n in service.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assigned = {t.id for n in service.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    problems = []
    inherits = any(not (isinstance(b, ast.Name) and b.id == "object") for b in service.bases)
    if DEFAULT_ENTRY not in methods and DEFAULT_ENTRY not in assigned and not inherits:
        problems.append(error(file, f"class {service.name} has no 'handle' method; add "
                                    "handle(self, data, context)", "handler.class-without-handle"))
    init = methods.get("__init__")
    if init is not None and _required_positional(init) > 1:
        problems.append(error(file, f"line {init.lineno}: {service.name}.__init__ requires arguments, but MMS "
                                    "creates the service with none; give them defaults",
                              "handler.class-init-args"))
    return problems


def _required_positional(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = function.args
    positional = len(args.posonlyargs) + len(args.args)
    required_kwonly = sum(1 for d in args.kw_defaults if d is None)
    return positional - len(args.defaults) + required_kwonly
