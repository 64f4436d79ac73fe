"""``MXNetModelService``: serve an MXNet checkpoint described by ``signature.json``.

At load it reads the signature, picks the device (:mod:`service_sdk.device`),
loads ``PREFIX-symbol.json`` + ``PREFIX-NNNN.params`` and binds a Module for
the worker's batch size with the signature's shapes. Every argument and
auxiliary state (BatchNorm running statistics) must come from the params
file: a missing one fails the load rather than being silently initialised.
A warm-up forward at load surfaces shape errors at registration time.

Per batch, requests are JSON tensors (a nested list for a single-input model,
or an object keyed by input name) or ``.npy`` bytes; they are stacked on the
batch axis and each request gets ``{output_name: nested list}`` back.

A batch costs what it holds, not the registered batch size: MMS hands over
however many requests arrived within ``max_batch_delay``, most often one under
light load. Executors exist for the bucket sizes 1, 2, 4, ... up to the batch
size (:func:`~service_sdk.utils.ndarray.bucket_sizes`), each bound on first use
with ``shared_module`` so it shares the parameters and the activation memory of
the full-size one; a batch runs on the smallest bucket that holds it, padded
with zeros up to that bucket only. On CPU, MXNet's default MKLDNN subgraph
backend folds BatchNorm into each executor's own copy of the convolution
weights, so an extra executor costs about the size of those weights (ResNet-18:
~58 MB each; ~1-3 MB with ``MXNET_SUBGRAPH_BACKEND=NONE``, which runs ~25%
slower); ``batch_buckets`` limits the sizes kept.
"""
from __future__ import annotations

import logging
import warnings
from collections import Counter
from typing import Any, Optional, Sequence

import numpy as np

from service_sdk.checkpoint import find_checkpoint, head_is_probability, load_checkpoint
from service_sdk.device import Capabilities, DeviceChoice, log_choice, requested_device, select_device
from service_sdk.errors import ServiceError
from service_sdk.services.base import ModelService
from service_sdk.signature import Signature, load_signature
from service_sdk.tensor_requests import as_item, request_values
from service_sdk.utils.ndarray import batch_ranges, bucket_for, bucket_sizes, pad_to, take

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
    ``batch_buckets``
        the batch sizes below the registered one that get their own executor;
        ``None`` (default) means 1, 2, 4, ...; ``()`` keeps only the full-size
        executor (every batch padded to it), for models too large to hold
        another copy of their fused weights.
    """

    model_prefix: Optional[str] = None
    epoch: Optional[int] = None
    device: Optional[str] = None
    capabilities: Optional[Capabilities] = None
    batch_buckets: Optional[Sequence[int]] = None

    signature: Signature
    device_choice: DeviceChoice
    output_names: list[str]
    output_shapes: list[tuple[int, ...]]
    bucket_sizes: list[int]
    executor_runs: Counter

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
        self.bucket_sizes = (bucket_sizes(self.batch_size) if self.batch_buckets is None else
                             sorted({int(b) for b in self.batch_buckets if 0 < int(b) < self.batch_size}
                                    | {self.batch_size}))
        self.executor_runs = Counter()
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
        """Load the checkpoint and bind it on the chosen device at the full batch size."""
        prefix, epoch = find_checkpoint(self.model_dir, self.model_prefix or self.model_name or None, self.epoch)
        symbol, arg_params, aux_params = load_checkpoint(prefix, epoch)
        context = self.device_choice.model_context()
        data_names = [spec.name for spec in self.signature.inputs]
        self._label_names = self._check_params(symbol, data_names, arg_params, aux_params, prefix)
        if self.device_choice.backend:
            symbol = symbol.optimize_for(self.device_choice.backend, arg_params, aux_params, ctx=context)
        self.symbol = symbol
        module = self._bind(self.batch_size, shared=None)
        module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=True)
        self.module = module
        self._modules = {self.batch_size: module}
        self.output_names = list(module.output_names)
        log.info("loaded %s-%04d.params: %d inputs, outputs %s, batch size %d (buckets %s)",
                 prefix, epoch, len(data_names), self.output_names, self.batch_size, self.bucket_sizes)

    def _bind(self, size: int, shared: Any) -> Any:
        """A Module bound for ``size`` items; with ``shared``, reusing its parameters and memory."""
        import mxnet as mx

        module = mx.mod.Module(self.symbol, data_names=[spec.name for spec in self.signature.inputs],
                               label_names=self._label_names or None, context=self.device_choice.model_context())
        with warnings.catch_warnings():  # label arguments are unused in inference; MXNet warns about them
            warnings.simplefilter("ignore", UserWarning)
            module.bind(for_training=False, shared_module=shared,
                        data_shapes=[(spec.name, spec.bound_shape(size)) for spec in self.signature.inputs])
        return module

    def executor(self, size: int) -> Any:
        """The Module bound for ``size`` items, bound on first use beside the full-size one."""
        module = self._modules.get(size)
        if module is None:
            module = self._modules[size] = self._bind(size, shared=self.module)
            log.info("bound an executor for batches of %d", size)
        return module

    @property
    def executor_sizes(self) -> list[int]:
        """The batch sizes executors exist for so far."""
        return sorted(self._modules)

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
        """Run stacked inputs (one array per signature input), each chunk on the smallest bucket that holds it."""
        total = model_input[0].shape[self.signature.inputs[0].batch_axis]
        chunks = []
        for start, stop in batch_ranges(total, self.batch_size):
            size = bucket_for(stop - start, self.bucket_sizes)
            parts = [pad_to(take(array, start, stop, spec.batch_axis), size, spec.batch_axis)
                     for array, spec in zip(model_input, self.signature.inputs)]
            outputs = self.run_batch(parts)
            self.executor_runs[size] += 1
            if size == stop - start:
                chunks.append(outputs)
            else:
                chunks.append([take(out, 0, stop - start, self._output_axis(i)) for i, out in enumerate(outputs)])
        if len(chunks) == 1:
            return chunks[0]
        return [np.concatenate([chunk[i] for chunk in chunks], axis=self._output_axis(i))
                for i in range(len(chunks[0]))]

    def _batch_of(self, arrays: list[np.ndarray]) -> int:
        return arrays[0].shape[self.signature.inputs[0].batch_axis]

    def run_batch(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """One forward pass on the executor for the arrays' batch size; one array per graph output."""
        import mxnet as mx

        from service_sdk.device import input_context

        module = self.executor(self._batch_of(arrays))
        batch = mx.io.DataBatch(data=[mx.nd.array(a, ctx=input_context()) for a in arrays])
        module.forward(batch, is_train=False)
        return [out.asnumpy() for out in module.get_outputs()]

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
