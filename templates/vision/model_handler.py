"""Image classification service for Multi Model Server, built on service_sdk.

Next to this file put your model, named after the model name you archive with:
  NAME-symbol.json, NAME-0000.params   the MXNet checkpoint
  signature.json                       input [0, C, H, W] (C = 1 or 3) and output shapes
  synset.txt                           one class label per line, in output order
Build and try it with the steps in README-service.md (they end in a 200).
"""
from service_sdk.services import MXNetVisionService


class ImageClassifier(MXNetVisionService):
    """Decode, resize to the signature's H x W, normalise, classify, answer the top-k labels."""

    # Classes returned per image.
    top_k = 5
    # Pixels become (value * scale - mean) / std per channel. Models trained on
    # raw 0..255 pixels (MMS's original ImageNet examples) want scale = 1.0.
    scale = 1.0 / 255.0
    mean = None  # e.g. (0.485, 0.456, 0.406) for torchvision-style ImageNet models
    std = None  # e.g. (0.229, 0.224, 0.225)
    # "stretch" resizes to H x W; "center_crop" keeps the aspect ratio and crops.
    resize_mode = "stretch"
    # None: apply softmax unless the graph already ends in one. True/False force it.
    apply_softmax = None


# A module-level entry point: MMS calls handle(None, context) at registration,
# so a model that fails to load fails the registration instead of serving errors.
handle = ImageClassifier.entry_point()
