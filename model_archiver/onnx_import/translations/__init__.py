"""Op translations added to MXNet's importer table in the conversion child.

MXNet 1.9.1's importer maps each ONNX op to a function ``(attrs, inputs, graph)
-> (mxnet op name or symbol, attrs, inputs)``. The functions here fill gaps
(``Erf``, ``Where``, ``Tile``, ``Gelu``, hyperbolic functions...) and replace translations that
compute something else than ONNX (``AveragePool`` counting padding, ``LpPool``
without ``|x|``, ``ArgMax`` ignoring ``select_last_index``, ``ConvTranspose``
padding its input, ``Split`` sized by the graph's outputs). One module per group of ops; each
raises :class:`Untranslatable` for attribute combinations MXNet cannot express,
and the child names the node. Nothing here imports MXNet at module level:
:mod:`support` reads :data:`TRANSLATIONS`'s keys without it.
"""
from __future__ import annotations

from typing import Any, Callable

from model_archiver.onnx_import.translations import convolution, elementwise, pooling, reductions, tensors
from model_archiver.onnx_import.translations.common import Untranslatable

Translation = Callable[[dict, list, Any], tuple]

TRANSLATIONS: dict[str, Translation] = {
    **pooling.TRANSLATIONS,
    **reductions.TRANSLATIONS,
    **elementwise.TRANSLATIONS,
    **tensors.TRANSLATIONS,
    **convolution.TRANSLATIONS,
}

__all__ = ["TRANSLATIONS", "Untranslatable", "install"]


def install(convert_map: dict[str, Translation]) -> None:
    """Add (or replace) this package's translations in MXNet's importer table."""
    convert_map.update(TRANSLATIONS)
