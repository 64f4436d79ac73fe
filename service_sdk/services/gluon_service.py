"""``GluonService``: serve a Gluon ``HybridBlock`` or ``SymbolBlock``.

Request decoding, batching (padding a short last batch) and responses are
those of :class:`MXNetModelService`; only loading and the forward pass differ.
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
        if self.hybridize and isinstance(net, mx.gluon.HybridBlock):
            options = {"static_alloc": True, "static_shape": True}
            if self.device_choice.backend:
                options["backend"] = self.device_choice.backend
            net.hybridize(**options)
        self.net = net
        self.output_names = [spec.name for spec in self.signature.outputs]
        log.info("serving %s (hybridized: %s) on %s", type(net).__name__,
                 self.hybridize and isinstance(net, mx.gluon.HybridBlock), self.device_choice)

    def run_batch(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        import mxnet as mx

        inputs = [mx.nd.array(a, ctx=input_context()) for a in arrays]
        if self.device_choice.copies_inputs:
            inputs = [x.as_in_context(self.device_choice.model_context()) for x in inputs]
        outputs = self.net(*inputs)
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
