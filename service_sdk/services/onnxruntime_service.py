"""``OnnxRuntimeService``: serve the archive's ``.onnx`` file as is, with onnxruntime.

The alternative to converting to MXNet: for models MXNet's importer cannot
handle, or when no Elastic Inference accelerator is wanted. Requests are the
same as for :class:`~service_sdk.services.mxnet_service.MXNetModelService`
(JSON tensors - a nested list for a single-input model, or an object keyed by
input name - or ``.npy`` bytes) and each gets ``{output_name: nested list}``.

Input names and shapes come from ``signature.json`` when the archive has one,
else from the ONNX file; dimensions that are symbolic in the file accept any
size. Requests whose tensors differ in such a dimension are run in separate
groups rather than failing the batch. A model with a fixed batch size is run in
chunks of that size (the last chunk zero-padded). A bad request fails only its
own slot, with a 4xx JSON body; the rest of the batch is still answered.
"""
from __future__ import annotations

import glob
import logging
import os
from typing import Any, Optional

import numpy as np

from service_sdk.errors import ServiceError
from service_sdk.services.base import ModelService
from service_sdk.signature import SIGNATURE_FILE, TensorSpec, load_signature
from service_sdk.tensor_requests import as_item, request_values
from service_sdk.utils.ndarray import batch_ranges, pad_to

log = logging.getLogger(__name__)

# onnxruntime's type strings for the element types a request can carry.
_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}


class OnnxRuntimeService(ModelService):
    """Run an ONNX model with onnxruntime.

    Class attributes a subclass may set:

    ``model_file``
        the ``.onnx`` file name in the model dir; default the only one there.
    ``intra_op_threads``
        onnxruntime's intra-op thread count (MMS runs one worker per core, so 1
        avoids oversubscription); ``None`` keeps onnxruntime's default.
    """

    model_file: Optional[str] = None
    intra_op_threads: Optional[int] = 1

    inputs: list[TensorSpec]
    input_dtypes: list[Any]
    output_names: list[str]
    fixed_batch: Optional[int]

    def initialize(self, context: Any) -> None:
        """Open the session, work out the inputs and (for fixed item shapes) run one zero
        request, so a model that cannot run fails its registration."""
        super().initialize(context)
        self.initialized = False
        self.session = self._open_session(self._model_path())
        graph_inputs = self.session.get_inputs()
        self.inputs = self._input_specs(graph_inputs)
        self.input_dtypes = [_dtype(i.type, i.name) for i in graph_inputs if i.name in {s.name for s in self.inputs}]
        self.output_names = [o.name for o in self.session.get_outputs()]
        first_dim = graph_inputs[0].shape[0] if graph_inputs[0].shape else None
        self.fixed_batch = first_dim if isinstance(first_dim, int) and first_dim > 0 else None
        if all(all(spec.item_shape) for spec in self.inputs):
            self._run_group([[np.zeros(spec.item_shape, dtype) for spec, dtype in zip(self.inputs, self.input_dtypes)]])
        log.info("onnxruntime serving %s: inputs %s, outputs %s", os.path.basename(self.session_path),
                 [s.name for s in self.inputs], self.output_names)
        self.initialized = True

    def _model_path(self) -> str:
        if self.model_file:
            path = os.path.join(self.model_dir, self.model_file)
            if not os.path.isfile(path):
                raise ServiceError(f"{self.model_file} not found in {self.model_dir}")
            return path
        found = sorted(glob.glob(os.path.join(self.model_dir, "*.onnx")))
        if len(found) != 1:
            names = ", ".join(os.path.basename(p) for p in found) or "none"
            raise ServiceError(f"expected exactly one .onnx file in the model dir (found: {names}); set model_file")
        return found[0]

    def _open_session(self, path: str) -> Any:
        try:
            import onnxruntime
        except ImportError:
            raise ServiceError("OnnxRuntimeService needs onnxruntime installed in the MMS environment") from None
        options = onnxruntime.SessionOptions()
        if self.intra_op_threads:
            options.intra_op_num_threads = self.intra_op_threads
        providers = ["CPUExecutionProvider"]
        if self.gpu_id is not None and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": self.gpu_id}))
        try:
            session = onnxruntime.InferenceSession(path, options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ServiceError(f"onnxruntime cannot load {os.path.basename(path)}: {exc}") from None
        self.session_path = path
        return session

    def _input_specs(self, graph_inputs: list) -> list[TensorSpec]:
        """The signature's inputs when there is one, else the file's (symbolic dims as 0)."""
        names = [i.name for i in graph_inputs]
        if os.path.isfile(os.path.join(self.model_dir, SIGNATURE_FILE)):
            specs = list(load_signature(self.model_dir).inputs)
            unknown = [s.name for s in specs if s.name not in names]
            if unknown:
                raise ServiceError(f"signature inputs {unknown} are not inputs of the ONNX model ({', '.join(names)})")
            return specs
        return [TensorSpec(i.name, tuple(d if isinstance(d, int) and d > 0 else 0 for d in i.shape)) for i in graph_inputs]

    # -- requests -------------------------------------------------------------

    def preprocess_request(self, request: dict, idx: int) -> list[np.ndarray]:
        """One request's tensors, one per input, each checked against the input's item shape."""
        values = request_values(request, self.inputs)
        return [as_item(value, spec, dtype) for value, spec, dtype in zip(values, self.inputs, self.input_dtypes)]

    def collate(self, items: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """Keep the items apart: they are grouped by shape at inference time."""
        return items

    def inference(self, model_input: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """Outputs per request (a list of arrays each), running same-shaped requests together."""
        groups: dict[tuple, list[int]] = {}
        for position, item in enumerate(model_input):
            groups.setdefault(tuple(a.shape for a in item), []).append(position)
        results: list[Optional[list[np.ndarray]]] = [None] * len(model_input)
        for positions in groups.values():
            outputs = self._run_group([model_input[p] for p in positions])
            for row, position in enumerate(positions):
                results[position] = [out[row] for out in outputs]
        return results  # type: ignore[return-value]

    def _run_group(self, items: list[list[np.ndarray]]) -> list[np.ndarray]:
        """Stack same-shaped items on the batch axis and run them (in fixed-size chunks if needed)."""
        stacked = [np.stack([item[i] for item in items]) for i in range(len(self.inputs))]
        size = self.fixed_batch or len(items)
        chunks = []
        for start, stop in batch_ranges(len(items), size):
            feeds = {spec.name: pad_to(array[start:stop], size) for spec, array in zip(self.inputs, stacked)}
            outputs = self.session.run(self.output_names, feeds)
            chunks.append([out[: stop - start] for out in outputs])
        return [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(self.output_names))]

    def postprocess(self, output: list[list[np.ndarray]]) -> list[dict]:
        return [{name: array.tolist() for name, array in zip(self.output_names, item)} for item in output]


def _dtype(type_name: str, input_name: str) -> Any:
    if type_name not in _ORT_TYPES:
        raise ServiceError(f"input {input_name!r} has type {type_name}, which requests cannot carry")
    return _ORT_TYPES[type_name]
