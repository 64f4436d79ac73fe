"""Gluon model service for Multi Model Server, built on service_sdk.

By default the block is imported from NAME-symbol.json / NAME-0000.params
(what HybridBlock.export writes) as a SymbolBlock. To serve your own block
class instead, override build_network (example below) and ship its
parameters file. signature.json names the inputs and their shapes
([0, ...], 0 = batch). Requests and answers are as in the MXNet template.
Build and try it with the steps in README-service.md (they end in a 200).
"""
from service_sdk.services import GluonService


class BlockService(GluonService):
    """Serves a Gluon block, hybridized with static shapes (short batches are padded)."""

    # def build_network(self):
    #     import mxnet as mx
    #     from my_network import MyNet          # a module shipped in the archive
    #     net = MyNet()
    #     net.load_parameters(self.model_file("my_net.params"), ctx=mx.cpu())
    #     return net


handle = BlockService.entry_point()
