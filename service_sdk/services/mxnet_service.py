"""``MXNetModelService``: serve an MXNet checkpoint described by ``signature.json``.

At load it reads the signature, picks the device (:mod:`service_sdk.device`),
loads ``PREFIX-symbol.json`` + ``PREFIX-NNNN.params`` and binds a Module for
the worker's batch size with the signature's shapes. Every argument and
auxiliary state (BatchNorm running statistics) must come from the params
file: a missing one fails the load rather than being silently initialised.
A warm-up forward at load surfaces shape errors at registration time.

Per batch, requests are JSON tensors (a nested list for a single-input model,
or an object keyed by input name) or ``.npy`` bytes; they are stacked on the
batch axis, run in chunks of the bound batch size (a short last chunk is
zero-padded and the padding dropped), and each request gets
``{output_name: nested list}`` back.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Optional

import numpy as np

from service_sdk.checkpoint import find_checkpoint, head_is_probability, load_checkpoint
from service_sdk.device import Capabilities, DeviceChoice, log_choice, requested_device, select_device
from service_sdk.errors import ServiceError
from service_sdk.services.base import ModelService
from service_sdk.signature import Signature, load_signature
from service_sdk.tensor_requests import as_item, request_values
from service_sdk.utils.ndarray import batch_ranges, pad_to, take

log = logging.getLogger(__name__)


class MXNetModelService(ModelService):
    """A signature-driven service over a symbolic MXNet checkpoint.

    Class attributes a subclass may set:

    ``model_prefix``
        checkpoint file prefix; default the manifest's ``modelName``.
    ``epoch``
        checkpoint epoch; default the latest ``PREFIX-NNNN.params``.
    ``device``
        ``"auto"`` (default), ``"eia"``, ``"gpu"`` or ``"cpu"``; the
        ``SERVICE_SDK_DEVICE`` environment variable overrides it.
    ``capabilities``
        a :class:`~service_sdk.device.Capabilities` to use instead of probing MXNet.
    """

    model_prefix: Optional[str] = None
    epoch: Optional[int] = None
    device: Optional[str] = None
    capabilities: Optional[Capabilities] = None

    signature: Signature
    device_choice: DeviceChoice
    output_names: list[str]
    output_shapes: list[tuple[int, ...]]

    def initialize(self, context: Any) -> None:
        """Read the signature, choose the device, load and warm up the model.

        ``initialized`` only becomes true once all of that succeeded, so a
        failed load is retried (and fails loudly) instead of serving nothing.
        """
        super().initialize(context)
        self.initialized = False
        self.signature = load_signature(self.model_dir)
        self.check_signature(self.signature)
        self.device_choice = select_device(self.gpu_id, requested_device(self.device), self.capabilities)
        log_choice(self.device_choice, self.model_name)
        self.load_model()
        warm = self.run_batch([np.zeros(spec.bound_shape(self.batch_size), dtype=np.float32)
                               for spec in self.signature.inputs])
        self.output_shapes = [tuple(out.shape) for out in warm]
        self.initialized = True

    def check_signature(self, signature: Signature) -> None:
        """Refuse a signature this service cannot serve (before anything is loaded)."""

    @property
    def model_name(self) -> str:
        return self.manifest.get("model", {}).get("modelName") or getattr(self.context, "model_name", None) or ""

    # -- loading ------------------------------------------------------------

    def load_model(self) -> None:
        """Load the checkpoint and bind it on the chosen device."""
        import mxnet as mx

        prefix, epoch = find_checkpoint(self.model_dir, self.model_prefix or self.model_name or None, self.epoch)
        symbol, arg_params, aux_params = load_checkpoint(prefix, epoch)
        context = self.device_choice.model_context()
        data_names = [spec.name for spec in self.signature.inputs]
        label_names = self._check_params(symbol, data_names, arg_params, aux_params, prefix)
        if self.device_choice.backend:
            symbol = symbol.optimize_for(self.device_choice.backend, arg_params, aux_params, ctx=context)
        module = mx.mod.Module(symbol, data_names=data_names, label_names=label_names or None, context=context)
        with warnings.catch_warnings():  # label arguments are unused in inference; MXNet warns about them
            warnings.simplefilter("ignore", UserWarning)
            module.bind(for_training=False,
                        data_shapes=[(spec.name, spec.bound_shape(self.batch_size)) for spec in self.signature.inputs])
        module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=True)
        self.module = module
        self.symbol = symbol
        self.output_names = list(module.output_names)
        log.info("loaded %s-%04d.params: %d inputs, outputs %s, batch size %d",
                 prefix, epoch, len(data_names), self.output_names, self.batch_size)

    @staticmethod
    def _check_params(symbol: Any, data_names: list[str], arg_params: dict, aux_params: dict,
                      prefix: str) -> list[str]:
        """Return the label arguments; raise if the graph needs a parameter the file lacks."""
        arguments = symbol.list_arguments()
        unknown_inputs = [name for name in data_names if name not in arguments]
        if unknown_inputs:
            raise ServiceError(f"signature inputs {unknown_inputs} are not inputs of the graph "
                               f"(its arguments: {arguments[:8]})")
        free = [a for a in arguments if a not in data_names and a not in arg_params]
        labels = [a for a in free if a.endswith("label")]
        missing = [a for a in free if a not in labels]
        missing += [a for a in symbol.list_auxiliary_states() if a not in aux_params]
        if missing:
            raise ServiceError(f"{prefix} params lack {len(missing)} parameter(s) the graph needs: "
                               f"{', '.join(missing[:10])}")
        return labels

    def output_is_probability(self) -> bool:
        """Whether the first graph output is already a probability distribution."""
        return head_is_probability(self.symbol)

    # -- inference ----------------------------------------------------------

    def inference(self, model_input: list[np.ndarray]) -> list[np.ndarray]:
        """Run stacked inputs (one array per signature input) in batches of the bound size."""
        total = model_input[0].shape[self.signature.inputs[0].batch_axis]
        chunks = []
        for start, stop in batch_ranges(total, self.batch_size):
            parts = [pad_to(take(array, start, stop, spec.batch_axis), self.batch_size, spec.batch_axis)
                     for array, spec in zip(model_input, self.signature.inputs)]
            outputs = self.run_batch(parts)
            chunks.append([take(out, 0, stop - start, self._output_axis(i)) for i, out in enumerate(outputs)])
        return [np.concatenate([chunk[i] for chunk in chunks], axis=self._output_axis(i))
                for i in range(len(chunks[0]))]

    def run_batch(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """One forward pass on arrays shaped for the bound batch; one array per graph output."""
        import mxnet as mx

        from service_sdk.device import input_context

        batch = mx.io.DataBatch(data=[mx.nd.array(a, ctx=input_context()) for a in arrays])
        self.module.forward(batch, is_train=False)
        return [out.asnumpy() for out in self.module.get_outputs()]

    def _output_axis(self, index: int) -> int:
        spec = self.signature.output_spec(index)
        return spec.batch_axis if spec is not None else 0

    # -- request decoding and responses ------------------------------------

    def preprocess_request(self, request: dict, idx: int) -> list[np.ndarray]:
        """One request's tensors, one per signature input, each of the input's item shape."""
        inputs = self.signature.inputs
        return [as_item(value, spec) for value, spec in zip(request_values(request, inputs), inputs)]

    def collate(self, items: list[list[np.ndarray]]) -> list[np.ndarray]:
        return [np.stack([item[i] for item in items], axis=spec.batch_axis)
                for i, spec in enumerate(self.signature.inputs)]

    def postprocess(self, output: list[np.ndarray]) -> list:
        names = [spec.name for spec in self.signature.outputs] if len(self.signature.outputs) == len(output) \
            else self.output_names
        count = output[0].shape[self._output_axis(0)]
        return [{name: take(out, i, i + 1, self._output_axis(n)).squeeze(self._output_axis(n)).tolist()
                 for n, (name, out) in enumerate(zip(names, output))} for i in range(count)]
