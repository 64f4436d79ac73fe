"""What every translation shares: the refusal type and reading constant operands."""
from __future__ import annotations

from typing import Any


class Untranslatable(Exception):
    """An attribute combination or operand MXNet 1.9.1 cannot express; the message says which."""


def constant_operand(graph: Any, operand: Any, what: str) -> Any:
    """The numpy value of an input the importer holds as a parameter (an initializer)."""
    params = graph._params  # noqa: SLF001 - the importer's own parameter table, as its translations read it
    if operand.name not in params:
        raise Untranslatable(f"its {what} is computed at run time; MXNet needs it constant")
    return params[operand.name].asnumpy()


def text(value: Any) -> str:
    """A string attribute as the importer hands it over (str, or bytes on some paths)."""
    return value.decode() if isinstance(value, bytes) else str(value)
