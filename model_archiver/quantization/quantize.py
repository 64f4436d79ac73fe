"""The MXNet side: oneDNN INT8 quantization of a symbolic checkpoint, and forward passes.

Runs only inside the quantization worker process (MXNet can abort the process
on graphs it does not support, which must not take the CLI down with it).
``quantize_model_mkldnn`` first fuses the graph for oneDNN (conv + BatchNorm +
ReLU become one ``_sg_mkldnn_conv`` node), so exclusions are chosen on the
fused graph and reported with its node names.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from model_archiver.errors import ConversionError
from model_archiver.quantization.layers import Exclusions, check_quantized, choose_exclusions


BACKEND = "MKLDNN_QUANTIZE"
FORWARD_BATCH = 32


@dataclass
class Quantized:
    symbol: Any
    arg_params: dict
    aux_params: dict
    exclusions: Exclusions
    int8_layers: list[str]


def quantize_checkpoint(symbol: Any, arg_params: dict, aux_params: dict, data_name: str, calib: np.ndarray,
                        calib_mode: str, patterns: Sequence[str], defaults: bool) -> Quantized:
    """INT8 symbol and params calibrated on ``calib`` (``naive``: min/max; ``entropy``: KL thresholds)."""
    import mxnet as mx
    from mxnet.contrib.quantization import quantize_model_mkldnn

    fused = json.loads(symbol.get_backend_symbol(BACKEND).tojson())
    exclusions = choose_exclusions(fused, patterns, defaults)
    calib_iter = mx.io.NDArrayIter(data={data_name: calib}, batch_size=_calib_batch(len(calib)))
    try:
        qsym, qarg, qaux = quantize_model_mkldnn(
            symbol, arg_params, aux_params, data_names=(data_name,), label_names=None, ctx=mx.cpu(),
            excluded_sym_names=list(exclusions.names), excluded_op_names=list(exclusions.ops),
            calib_mode=calib_mode, calib_data=calib_iter, num_calib_examples=len(calib),
            quantized_dtype="auto", quantize_mode="smart", logger=_quiet_logger())
    except (mx.base.MXNetError, ValueError, KeyError, AttributeError) as exc:
        raise ConversionError(f"MXNet could not quantize this graph: {_first_line(exc)}") from None
    int8 = check_quantized(json.loads(qsym.tojson()), exclusions)
    return Quantized(qsym, qarg, qaux, exclusions, int8)


def _calib_batch(count: int) -> int:
    """The largest batch <= 16 dividing ``count``, so no zero padding skews the ranges."""
    return max(size for size in range(1, min(16, count) + 1) if count % size == 0)


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("model_archiver.quantization.mxnet")
    logger.setLevel(logging.WARNING)
    return logger


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def forward(symbol: Any, arg_params: dict, aux_params: dict, data_name: str, data: np.ndarray) -> np.ndarray:
    """The first output for every row of ``data``, in fixed-size batches (last one padded)."""
    import mxnet as mx

    batch = min(FORWARD_BATCH, len(data))
    module = mx.mod.Module(symbol, data_names=[data_name], label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[(data_name, (batch, *data.shape[1:]))])
    module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=True)
    outputs = []
    for start in range(0, len(data), batch):
        chunk = data[start:start + batch]
        padded = np.concatenate([chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), chunk.dtype)])
        module.forward(mx.io.DataBatch([mx.nd.array(padded)]), is_train=False)
        outputs.append(module.get_outputs()[0].asnumpy()[: len(chunk)])
    return np.concatenate(outputs)
