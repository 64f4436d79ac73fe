"""Generic MXNet model service for Multi Model Server, built on service_sdk.

Next to this file put your model, named after the model name you archive with:
  NAME-symbol.json, NAME-0000.params   the MXNet checkpoint
  signature.json                       every input's name and shape ([0, ...], 0 = batch)
Requests are JSON: a nested list for a single-input model, or an object keyed
by input name; .npy bytes also work. Each answer is {output_name: nested list}.
Build and try it with the steps in README-service.md (they end in a 200).
"""
from service_sdk.services import MXNetModelService


class TensorService(MXNetModelService):
    """Binds the checkpoint for the server's batch size; pads short batches."""

    # Checkpoint prefix and epoch; None means the model name and the latest epoch.
    model_prefix = None
    epoch = None

    # To decode requests differently, override preprocess_request(request, idx)
    # to return one array per signature input (raise service_sdk.RequestError
    # for a bad request: only that request fails, with a 4xx). To shape the
    # answers, override postprocess(outputs) to return one value per request.


handle = TensorService.entry_point()
