"""A custom service for Multi Model Server on service_sdk's ModelService.

The stages are yours: load in initialize, decode one request in
preprocess_request, run the batch in inference, shape answers in postprocess.
As shipped it is a working example without a model: it counts the words of
each request's "text" so the batch plumbing can be tried end to end.
Build and try it with the steps in README-service.md (they end in a 200).
"""
from service_sdk import ModelService, RequestError
from service_sdk.services.base import request_json


class CustomService(ModelService):
    def initialize(self, context):
        super().initialize(context)
        # Load your model here, from files in self.model_dir. Raising here fails
        # the model's registration, which is what you want for a broken archive.

    def preprocess_request(self, request, idx):
        document = request_json(request)
        if not isinstance(document, dict) or not isinstance(document.get("text"), str):
            # Only this request fails (400 with a JSON error body); the batch goes on.
            raise RequestError('expected a JSON object with a "text" string')
        return document["text"]

    def inference(self, model_input):
        # model_input: the decoded items of the accepted requests, in order.
        return [len(text.split()) for text in model_input]

    def postprocess(self, output):
        return [{"words": count} for count in output]


handle = CustomService.entry_point()
