"""Run in a fresh interpreter to import a handler the way the MMS worker does.

Standard library only: this file is executed with ``python -c`` in a child
process whose working directory is the model directory, so it must not rely on
``model_archiver`` being importable there. Arguments: result file, module name,
optional function name. The result is a JSON object written to the result file
(the handler may print anything to stdout).
"""
import importlib
import inspect
import json
import os
import sys
import traceback

FRAMES_SHOWN = 3


_IMPORT_MACHINERY = os.path.dirname(importlib.__file__) + os.sep


def _where(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(("<frozen", "<string>", _IMPORT_MACHINERY))]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(traceback.FrameSummary(exc.filename, exc.lineno or 0, "<module>"))
    shown = []
    for frame in frames[-FRAMES_SHOWN:]:
        name = frame.filename
        if name.startswith(os.getcwd() + os.sep):
            name = os.path.relpath(name)
        shown.append("{}:{}".format(name, frame.lineno))
    return " <- ".join(reversed(shown))


def _entry_point_error(module, function):
    if function:
        if not callable(getattr(module, function, None)):
            return "module has no callable '{}'".format(function)
        return None
    if hasattr(module, "handle"):
        return None
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    if len(classes) != 1:
        return "expected one class or a 'handle' function, found classes {}".format([c.__name__ for c in classes])
    if not callable(getattr(classes[0], "handle", None)):
        return "class {} has no handle method".format(classes[0].__name__)
    return None


def main():
    result_file, module_name = sys.argv[1], sys.argv[2]
    function = sys.argv[3] if len(sys.argv) > 3 else ""
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a handler is an import failure too
        result = {"ok": False, "stage": "import", "error": "{}: {}".format(type(exc).__name__, exc).strip(),
                  "where": _where(exc)}
    else:
        problem = _entry_point_error(module, function)
        result = {"ok": problem is None, "stage": "entry", "error": problem, "where": ""}
    with open(result_file, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":  # run via ``python -c``; importing it does nothing
    main()
