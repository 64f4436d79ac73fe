"""``GluonService``: serve a Gluon ``HybridBlock`` or ``SymbolBlock``.

Request decoding, batching and responses are those of
:class:`MXNetModelService`; only loading and the forward pass differ. A
hybridized block keeps one cached graph per bucket size (1, 2, 4, ... up to the
batch size): with static shapes, one graph fed a new shape re-plans and
re-allocates its memory on every change, so each bucket gets its own
``SymbolBlock`` over the same ``Parameter`` objects (the weights are not copied),
built on first use. A block that is not hybridized runs every batch at its own
size, unpadded.
Override :meth:`build_network` to construct your own block and load its
parameters, e.g.::

    class MyService(GluonService):
        def build_network(self):
            net = MyNet()
            net.load_parameters(self.model_file("my_net.params"), ctx=mx.cpu())
            return net

    handle = MyService.entry_point()

By default the block is imported from the archive's
``PREFIX-symbol.json``/``PREFIX-NNNN.params`` checkpoint as a ``SymbolBlock``.
"""
from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import numpy as np

from service_sdk.checkpoint import find_checkpoint, head_is_probability
from service_sdk.device import input_context
from service_sdk.errors import ServiceError
from service_sdk.services.mxnet_service import MXNetModelService

log = logging.getLogger(__name__)


class GluonService(MXNetModelService):
    """A signature-driven service whose model is a Gluon block.

    ``hybridize`` (default true) hybridizes a ``HybridBlock`` with static
    memory and shapes, and with the ``EIA`` backend on EI MXNet >= 1.7.
    """

    hybridize = True

    def build_network(self) -> Any:
        """Return the block to serve, its parameters loaded (on the CPU is fine)."""
        import mxnet as mx

        prefix, epoch = find_checkpoint(self.model_dir, self.model_prefix or self.model_name or None, self.epoch)
        input_names = [spec.name for spec in self.signature.inputs]
        try:
            with warnings.catch_warnings():  # MXNet warns that it cannot infer the inputs' dtype; float32 is used
                warnings.simplefilter("ignore", UserWarning)
                return mx.gluon.SymbolBlock.imports(f"{prefix}-symbol.json", input_names,
                                                    f"{prefix}-{epoch:04d}.params", ctx=mx.cpu())
        except Exception as exc:  # MXNet raises MXNetError/AssertionError for a mismatched checkpoint
            raise ServiceError(f"cannot import {prefix} as a SymbolBlock: {exc}") from exc

    def model_file(self, name: str) -> str:
        """Path of a file shipped in the archive; a clear error when it is missing."""
        path = os.path.join(self.model_dir, name)
        if not os.path.exists(path):
            raise ServiceError(f"{name} not found in the model directory {self.model_dir}")
        return path

    def load_model(self) -> None:
        import mxnet as mx

        net = self.build_network()
        if not isinstance(net, mx.gluon.Block):
            raise ServiceError(f"build_network() returned {type(net).__name__}, not a Gluon Block")
        net.collect_params().reset_ctx(self.device_choice.model_context())
        hybrid = self.hybridize and isinstance(net, mx.gluon.HybridBlock)
        if hybrid:
            self._hybridize(net)
        else:  # any batch runs as it is: nothing to gain from padding
            self.bucket_sizes = list(range(1, self.batch_size + 1))
        self.net = net
        self._blocks = {self.batch_size: net}
        self.output_names = [spec.name for spec in self.signature.outputs]
        log.info("serving %s (hybridized: %s) on %s", type(net).__name__, hybrid, self.device_choice)

    def _hybridize(self, block: Any) -> None:
        options = {"static_alloc": True, "static_shape": True}
        if self.device_choice.backend:
            options["backend"] = self.device_choice.backend
        block.hybridize(**options)

    def executor(self, size: int) -> Any:
        """The block that runs batches of ``size``: a per-size graph sharing the served block's parameters."""
        import mxnet as mx

        block = self._blocks.get(size)
        if block is not None:
            return block
        if not (self.hybridize and isinstance(self.net, mx.gluon.HybridBlock)):
            return self.net
        inputs = [mx.sym.var(spec.name) for spec in self.signature.inputs]
        outputs = self.net(*inputs)
        with warnings.catch_warnings():  # MXNet warns that it cannot infer the inputs' dtype; float32 is used
            warnings.simplefilter("ignore", UserWarning)
            block = mx.gluon.SymbolBlock(outputs, inputs, params=self.net.collect_params())
        self._hybridize(block)
        self._blocks[size] = block
        log.info("built a cached graph for batches of %d", size)
        return block

    @property
    def executor_sizes(self) -> list[int]:
        return sorted(self._blocks)

    def run_batch(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        import mxnet as mx

        block = self.executor(self._batch_of(arrays))
        inputs = [mx.nd.array(a, ctx=input_context()) for a in arrays]
        if self.device_choice.copies_inputs:
            inputs = [x.as_in_context(self.device_choice.model_context()) for x in inputs]
        outputs = block(*inputs)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        if not self.output_names:
            self.output_names = [f"output{i}" for i in range(len(outputs))]
        return [out.asnumpy() for out in outputs]

    def output_is_probability(self) -> bool:
        import mxnet as mx

        if not isinstance(self.net, mx.gluon.HybridBlock):
            return False
        symbol = self.net(*[mx.sym.var(spec.name) for spec in self.signature.inputs])
        if isinstance(symbol, (list, tuple)):
            symbol = symbol[0]
        return head_is_probability(symbol)
