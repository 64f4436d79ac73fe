"""Handler checks follow MMS's loader rules, statically and with --check-import.

The rules are those of mms/model_loader.py (MMS 1.1.11); each static verdict is
cross-checked where it matters with a real import in a subprocess.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.breakage import add_handler, validate, with_code

SDK_STYLE = """\
def make_handler(cls):
    service = cls()
    def handle(data, context):
        return service.handle(data, context)
    return handle


class MyService:
    def handle(self, data, context):
        return data


handle = make_handler(MyService)
"""


def problems_for(tmp_path: Path, source: str | None, handler: str = "service", name: str = "service.py", **kw):
    if source is not None:
        add_handler(tmp_path, source, name)
    return validate(tmp_path, "m", handler, **kw)


def codes(problems):
    return [p.code for p in problems]


@pytest.mark.parametrize(
    "source,handler",
    [
        ("def handle(data, context):\n    return data\n", "service"),
        ("def predict(data, context):\n    return data\n", "service:predict"),
        ("def predict(data, context):\n    return data\n", "service.py:predict"),
        ("class S:\n    def handle(self, data, ctx):\n        return data\n", "service"),
        ("import json\nclass S(json.JSONEncoder):\n    pass\n", "service"),  # handle may be inherited
        ("from os.path import join as handle\n", "service"),
        ("try:\n    import numpy\nexcept ImportError:\n    numpy = None\nelse:\n    def handle(d, c):\n        return d\n",
         "service"),
        (SDK_STYLE, "service"),
    ],
)
def test_valid_entry_points(tmp_path, source, handler):
    assert problems_for(tmp_path, source, handler) == []


def test_handler_file_missing(tmp_path):
    (tmp_path / "other.py").write_text("x = 1\n")
    [problem] = problems_for(tmp_path, None, "service:handle")
    assert problem.code == "handler.module-not-found"
    assert str(problem) == ("service.py: handler 'service:handle': no service.py in the model directory; "
                            "add the handler file or fix --handler")


def test_handler_in_subfolder_is_not_importable_by_mms(tmp_path):
    [problem] = problems_for(tmp_path, "def handle(d, c):\n    pass\n", "code/service.py:handle", "code/service.py")
    assert problem.code == "handler.not-at-root" and "imports module 'service' from the archive root" in problem.message


def test_package_handler_is_found(tmp_path):
    assert problems_for(tmp_path, "def handle(d, c):\n    pass\n", "svc", "svc/__init__.py") == []


def test_two_classes(tmp_path):
    source = "class Helper:\n    pass\n\nclass Service:\n    def handle(self, d, c):\n        return d\n"
    [problem] = problems_for(tmp_path, source)
    assert problem.code == "handler.multiple-classes"
    assert "defines 2 classes (Helper, Service)" in problem.message


def test_two_classes_rejected_by_real_import_too(tmp_path):
    source = "class Helper:\n    pass\n\nclass Service:\n    def handle(self, d, c):\n        return d\n"
    problems = problems_for(tmp_path, source, check_import=True)
    assert codes(problems) == ["handler.multiple-classes", "handler.import-entry-point"]
    assert "['Helper', 'Service']" in problems[1].message


def test_no_entry_point(tmp_path):
    [problem] = problems_for(tmp_path, "import os\nVALUE = 1\n")
    assert problem.code == "handler.no-entry-point"


def test_named_function_missing(tmp_path):
    [problem] = problems_for(tmp_path, "def handle(d, c):\n    pass\n", "service:predict")
    assert problem.code == "handler.function-not-found" and "'predict'" in problem.message


def test_function_with_wrong_arity(tmp_path):
    [problem] = problems_for(tmp_path, "def handle(data):\n    return data\n")
    assert problem.code == "handler.function-signature" and problem.message.startswith("line 1: handle()")


def test_class_without_handle(tmp_path):
    [problem] = problems_for(tmp_path, "class S:\n    def predict(self, d):\n        return d\n")
    assert problem.code == "handler.class-without-handle"


def test_class_needing_constructor_arguments(tmp_path):
    source = "class S:\n    def __init__(self, path):\n        self.path = path\n    def handle(self, d, c):\n        return d\n"
    [problem] = problems_for(tmp_path, source)
    assert problem.code == "handler.class-init-args" and "S.__init__ requires arguments" in problem.message


def test_syntax_error(tmp_path):
    [problem] = problems_for(tmp_path, "def handle(data, context)\n    return data\n")
    assert problem.code == "handler.syntax-error" and problem.message.startswith("line 1: syntax error")


def test_import_error_reported_with_traceback_tail(tmp_path):
    (tmp_path / "helpers.py").write_text("import numpy\nimport no_such_dependency_xyz\n")
    source = "import helpers\n\ndef handle(data, context):\n    return data\n"
    assert problems_for(tmp_path, source) == []  # statically fine
    [problem] = problems_for(tmp_path, source, check_import=True)
    assert problem.code == "handler.import-error"
    assert "ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in problem.message
    assert "(at helpers.py:2 <- service.py:1)" in problem.message


def test_import_sees_only_the_archived_files_and_writes_nothing(tmp_path):
    source = "import json, os\nwith open(os.path.join(os.path.dirname(__file__), 'labels.json')) as f:\n" \
             "    LABELS = json.load(f)\n\ndef handle(data, context):\n    return LABELS\n"
    add_handler(tmp_path, source)
    [problem] = validate(tmp_path, "m", "service", check_import=True)
    assert "FileNotFoundError" in problem.message and "labels.json" in problem.message
    (tmp_path / "labels.json").write_text("[1, 2]")
    assert validate(tmp_path, "m", "service", check_import=True) == []
    assert not (tmp_path / "__pycache__").exists()


def test_import_error_on_archived_copy_without_model_dir(tmp_path):
    """Sources without real paths (archives) are copied out for the import."""
    from model_archiver.sources import MappingSource
    from model_archiver.validation import validate_source

    add_handler(tmp_path, "raise RuntimeError('boom at import')\n")

    class BytesOnly:  # a FileSource with no path(): what an opened archive looks like
        def __init__(self, inner: MappingSource):
            self.inner = inner

        def names(self):
            return self.inner.names()

        def size(self, name):
            return self.inner.size(name)

        def open(self, name):
            return self.inner.open(name)

    source = BytesOnly(MappingSource({"service.py": tmp_path / "service.py"}))
    problems = validate_source(source, model_name="m", handler="service", check_import=True)
    assert [p.code for p in problems] == ["handler.no-entry-point", "handler.import-error"]
    assert "RuntimeError: boom at import (at service.py:1)" in problems[1].message


def test_invalid_handler_and_model_name_values(tmp_path):
    add_handler(tmp_path)
    problems = validate(tmp_path, "-bad name", "service:handle:extra")
    assert with_code(problems, "manifest.invalid-model-name") and with_code(problems, "manifest.invalid-handler")
