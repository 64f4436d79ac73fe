"""MMS handler for ResNet-152: the SDK's vision service with ImageNet preprocessing.

Where the model runs is the SDK's choice (``service_sdk.device``): on an EC2
host with an Elastic Inference accelerator and EI-enabled MXNet it binds on the
accelerator (``mx.eia()`` with legacy EI MXNet, ``optimize_for('EIA')`` with
EI MXNet >= 1.7); otherwise on the GPU MMS assigned, else on the CPU. Inputs
are always created on the CPU. Set ``SERVICE_SDK_DEVICE=eia`` (or ``cpu``) in
the server's environment to force a choice; the choice is logged at load.

Images are scaled to [0, 1] and normalised with the ImageNet mean and standard
deviation the Gluon model zoo networks were trained with, after resizing the
shorter side to 224 and cropping the centre. Each request gets the top five
``{"probability", "class"}`` (softmax is applied: the graph ends in logits).
"""
from service_sdk.services.vision import MXNetVisionService


class ResNet152Service(MXNetVisionService):
    """Top-5 classes of a ``resnet-152`` checkpoint (file prefix = the model name)."""

    top_k = 5
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
    resize_mode = "center_crop"


# `--handler resnet_152_service:handle`: loading at registration makes a model that
# cannot load (or bind on the requested device) fail loudly at registration time.
handle = ResNet152Service.entry_point()
