"""Finding and reading an MXNet checkpoint (``PREFIX-symbol.json`` + ``PREFIX-NNNN.params``).

The prefix defaults to the manifest's model name, as MMS's own services did;
when no file carries that prefix and the directory holds exactly one
checkpoint, that one is used (and logged), since users often archive a
checkpoint whose file names differ from the model name.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import re
from typing import Any, Optional

from service_sdk.errors import ServiceError

log = logging.getLogger(__name__)

SYMBOL_SUFFIX = "-symbol.json"
_PARAMS = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d{4})\.params$")
# Ops whose output is already a probability distribution (or monotone in one).
PROBABILITY_OPS = frozenset({"softmax", "Softmax", "SoftmaxOutput", "SoftmaxActivation", "sigmoid"})
# Shape-only ops that may follow the softmax without changing its values.
PASS_THROUGH_OPS = frozenset({"_copy", "identity", "Flatten", "flatten", "Reshape", "reshape",
                              "squeeze", "expand_dims", "BlockGrad", "stop_gradient"})


def find_checkpoint(model_dir: str, prefix: Optional[str], epoch: Optional[int] = None) -> tuple[str, int]:
    """Return ``(path prefix, epoch)``; the latest epoch unless one is given."""
    if prefix is None or not os.path.exists(os.path.join(model_dir, prefix + SYMBOL_SUFFIX)):
        prefix = _only_prefix(model_dir, prefix)
    epochs = sorted(
        int(m.group("epoch"))
        for m in (_PARAMS.match(os.path.basename(p)) for p in glob.glob(os.path.join(glob.escape(model_dir), "*.params")))
        if m and m.group("prefix") == prefix
    )
    if not epochs:
        raise ServiceError(f"no {prefix}-NNNN.params next to {prefix}{SYMBOL_SUFFIX} in {model_dir}")
    if epoch is None:
        return os.path.join(model_dir, prefix), epochs[-1]
    if epoch not in epochs:
        raise ServiceError(f"{prefix}-{epoch:04d}.params not found (have epochs {epochs})")
    return os.path.join(model_dir, prefix), epoch


def _only_prefix(model_dir: str, wanted: Optional[str]) -> str:
    found = sorted(os.path.basename(p)[: -len(SYMBOL_SUFFIX)]
                   for p in glob.glob(os.path.join(glob.escape(model_dir), "*" + SYMBOL_SUFFIX)))
    if len(found) == 1:
        if wanted:
            log.info("no %s%s; using the only checkpoint %s", wanted, SYMBOL_SUFFIX, found[0])
        return found[0]
    expected = f"{wanted}{SYMBOL_SUFFIX}" if wanted else f"one *{SYMBOL_SUFFIX}"
    raise ServiceError(f"expected {expected} in {model_dir}, found {found or 'none'}; "
                       "set the service's model_prefix")


def load_checkpoint(prefix: str, epoch: int) -> tuple[Any, dict, dict]:
    """``(symbol, arg_params, aux_params)`` read with MXNet."""
    import mxnet as mx

    try:
        return mx.model.load_checkpoint(prefix, epoch)
    except Exception as exc:  # MXNet raises MXNetError/ValueError/OSError for damaged files
        raise ServiceError(f"cannot read checkpoint {prefix} epoch {epoch}: {exc}") from exc


def head_is_probability(symbol: Any, head: int = 0) -> bool:
    """Whether graph output ``head`` comes from a softmax-like op (looking through reshapes)."""
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    node = nodes[graph["heads"][head][0]]
    while node.get("op") in PASS_THROUGH_OPS and node.get("inputs"):
        node = nodes[node["inputs"][0][0]]
    return node.get("op") in PROBABILITY_OPS
