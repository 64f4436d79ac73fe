"""Sanitizer passes: rewrite an ONNX graph into the forms MXNet 1.9.1's importer handles.

MXNet's importer (``mxnet/contrib/onnx/onnx2mx``) was written for opsets up to
~11 and for files that list their weights as graph inputs. Each pass fixes one
gap as a small ``ModelProto -> ModelProto`` function that returns a new model
and leaves its argument untouched, so each can be tested on its own. Values are
computed with ONNX's own tools (shape inference, the reference evaluator)
rather than by re-implementing operator semantics. One module per family:

* ``upgrade`` - model-level fixes before anything reads shapes;
* ``folding`` - constants and constant subgraphs become initializers;
* ``decompositions`` - ops the importer lacks, spelled with ops it has;
* ``softmax``, ``indexing`` - semantics the importer gets wrong;
* ``batch`` - Reshapes that baked in the export batch size;
* ``operands`` - the attribute/operand forms the importer reads;
* ``weights`` - keeps large tensors out of every pass (see :func:`sanitize`).

The later passes (``axes_inputs_to_attributes`` and after) produce graphs that
are no longer valid ONNX for their declared opset - they target the importer,
which reads attributes whatever the opset - so ONNX tools must not be run on
their output; the original file is what verification runs.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

from model_archiver.errors import ArchiverError, ConversionError
from model_archiver.onnx_import.passes.batch import batch_agnostic_reshape
from model_archiver.onnx_import.passes.common import Pass, prune_unused_initializers
from model_archiver.onnx_import.passes.decompositions import castlike_to_cast, decompose_layer_normalization
from model_archiver.onnx_import.passes.folding import (
    drop_trailing_empty_inputs,
    fold_constant_nodes,
    fold_constant_subgraphs,
)
from model_archiver.onnx_import.passes.indexing import normalize_gather_indices, slice_to_gather
from model_archiver.onnx_import.passes.operands import (
    add_missing_gemm_bias,
    axes_inputs_to_attributes,
    complete_clip_bounds,
    explicit_auto_pads,
    explicit_batchnorm_epsilon,
    explicit_conv_transpose_pads,
    explicit_kernel_shape,
    explicit_reduce_keepdims,
    flatten_to_reshape,
    list_initializers_as_inputs,
    non_negative_arg_axes,
)
from model_archiver.onnx_import.passes.softmax import fix_legacy_softmax_axis
from model_archiver.onnx_import.passes.upgrade import raise_ir_version
from model_archiver.onnx_import.passes.weights import attach_weights, detach_weights, skeleton

if TYPE_CHECKING:  # pragma: no cover - typing only
    from onnx import ModelProto, TensorProto

log = logging.getLogger(__name__)

# Order matters: the IR upgrade first so shape inference sees folded weights;
# folding next gives later passes constants to read; the attribute-form
# rewrites come after every pass that needs shape inference.
PASSES: tuple[Pass, ...] = (
    raise_ir_version,
    drop_trailing_empty_inputs,
    fold_constant_nodes,
    fold_constant_subgraphs,
    castlike_to_cast,
    decompose_layer_normalization,
    complete_clip_bounds,
    add_missing_gemm_bias,
    explicit_kernel_shape,
    explicit_auto_pads,
    explicit_conv_transpose_pads,
    non_negative_arg_axes,
    flatten_to_reshape,
    fix_legacy_softmax_axis,
    slice_to_gather,
    normalize_gather_indices,
    batch_agnostic_reshape,
    axes_inputs_to_attributes,
    explicit_reduce_keepdims,
    explicit_batchnorm_epsilon,
    list_initializers_as_inputs,
)

__all__ = [
    "PASSES",
    "Pass",
    "add_missing_gemm_bias",
    "axes_inputs_to_attributes",
    "batch_agnostic_reshape",
    "castlike_to_cast",
    "complete_clip_bounds",
    "decompose_layer_normalization",
    "drop_trailing_empty_inputs",
    "explicit_auto_pads",
    "explicit_batchnorm_epsilon",
    "explicit_conv_transpose_pads",
    "explicit_kernel_shape",
    "explicit_reduce_keepdims",
    "fix_legacy_softmax_axis",
    "flatten_to_reshape",
    "fold_constant_nodes",
    "fold_constant_subgraphs",
    "list_initializers_as_inputs",
    "non_negative_arg_axes",
    "normalize_gather_indices",
    "prune_unused_initializers",
    "raise_ir_version",
    "sanitize",
    "slice_to_gather",
]


def sanitize(model: "ModelProto", passes: Sequence[Pass] = PASSES) -> tuple["ModelProto", list[str]]:
    """Run ``passes`` in order; return the result and the names of the passes that changed it.

    The passes see a skeleton whose large initializers are placeholders (copying
    and shape-inferring hundreds of MB per pass was most of a conversion); the
    weights are put back into the result.
    """
    weights: dict[str, "TensorProto"] = {}
    model = skeleton(model, weights)
    applied = []
    for rewrite in passes:
        try:
            rewritten = rewrite(model)
        except ArchiverError:
            raise
        except Exception as exc:  # noqa: BLE001 - one line naming the pass, never a traceback
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConversionError(f"sanitizer pass {rewrite.__name__} failed: {type(exc).__name__}: {detail}") from None
        if rewritten is not model:
            detach_weights(rewritten, weights)  # folding may have produced weight-sized constants
        if rewritten != model:
            applied.append(rewrite.__name__)
            log.info("onnx sanitizer: %s rewrote the graph", rewrite.__name__)
        model = rewritten
    attach_weights(model, weights)
    return model, applied
