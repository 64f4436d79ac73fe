"""Batches cost what they hold: per-size executors in the MXNet and Gluon services.

On the real digits CNN (tests/support/digits.py): a lone request under
``batch_size=8`` runs on a batch-1 executor, a batch of three on the batch-4
one, and every request gets the same answer whichever executor ran it, equal
to a direct Gluon forward of the trained network. The extra executors share
the full-size one's parameters, so changing a weight there changes them all.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from service_sdk import Context
from service_sdk.services import GluonService, GluonVisionService, MXNetModelService
from service_sdk.utils.ndarray import bucket_for, bucket_sizes
from tests.conftest import DIGITS_NAME
from tests.support import digits

SERVICES = [MXNetModelService, GluonService]


def _load(cls, model_dir, batch_size):
    context = Context(DIGITS_NAME, str(model_dir), {"model": {"modelName": DIGITS_NAME, "handler": "h"}}, batch_size)
    service = cls()
    service.handle(None, context)
    return service, context


def _answers(service, context, x: np.ndarray) -> np.ndarray:
    """Serve the rows of ``x`` as one MMS batch; the first output of each answer."""
    context.for_batch([{} for _ in x])
    out = service.handle([{"body": json.dumps(item.tolist()).encode()} for item in x], context)
    assert [context.get_response_status(i)[0] for i in range(len(x))] == [200] * len(x)
    return np.array([list(answer.values())[0] for answer in out])


def _direct(net, x: np.ndarray) -> np.ndarray:
    import mxnet as mx

    return net(mx.nd.array(x)).asnumpy()


def test_bucket_sizes_and_choice():
    assert bucket_sizes(1) == [1]
    assert bucket_sizes(8) == [1, 2, 4, 8]
    assert bucket_sizes(6) == [1, 2, 4, 6]
    assert [bucket_for(n, bucket_sizes(6)) for n in range(1, 7)] == [1, 2, 4, 4, 6, 6]
    with pytest.raises(ValueError):
        bucket_sizes(0)


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
def test_lone_request_runs_on_a_batch_one_executor(trained_digits, digits_dir, cls):
    net, split = trained_digits
    service, context = _load(cls, digits_dir, 8)
    loaded = service.executor_sizes
    answer = _answers(service, context, split.x_test[:1])
    assert dict(service.executor_runs) == {1: 1}
    assert service.executor_sizes == sorted({*loaded, 1})
    np.testing.assert_allclose(answer, _direct(net, split.x_test[:1]), rtol=1e-4, atol=1e-4)
    _answers(service, context, split.x_test[:3])
    assert dict(service.executor_runs) == {1: 1, 4: 1}


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
def test_answers_are_the_same_on_every_executor_size(trained_digits, digits_dir, cls):
    """Each request's answer does not depend on how many others shared its batch."""
    net, split = trained_digits
    service, context = _load(cls, digits_dir, 8)
    x = split.x_test[:8]
    full = _answers(service, context, x)
    for count in (1, 2, 3, 5):
        np.testing.assert_allclose(_answers(service, context, x[:count]), full[:count], rtol=1e-5, atol=1e-5)
        assert (_answers(service, context, x[:count]).argmax(1) == full[:count].argmax(1)).all()
    assert dict(service.executor_runs) == {1: 2, 2: 2, 4: 2, 8: 3}  # 5 requests run on the batch-8 executor
    assert service.executor_sizes == [1, 2, 4, 8]
    np.testing.assert_allclose(full, _direct(net, x), rtol=1e-4, atol=1e-4)


def test_extra_executors_share_the_parameters(trained_digits, digits_dir):
    """A weight changed through the full-size Module is the weight every smaller executor uses."""
    import mxnet as mx

    _, split = trained_digits
    service, context = _load(MXNetModelService, digits_dir, 4)
    before = _answers(service, context, split.x_test[:1])
    args, aux = service.module.get_params()
    zeroed = {name: mx.nd.zeros_like(value) for name, value in args.items()}
    service.module.set_params(zeroed, aux)
    after = _answers(service, context, split.x_test[:1])
    assert service.executor_runs[1] == 2
    assert np.abs(after - before).max() > 0.1
    assert np.ptp(after) < 1e-5  # every class gets the same score once the weights and biases are zero


def test_unhybridized_block_runs_every_batch_unpadded(trained_digits, digits_dir):
    net, split = trained_digits

    class Imperative(GluonVisionService):
        hybridize = False

    service, context = _load(Imperative, digits_dir, 8)
    assert service.bucket_sizes == list(range(1, 9))
    context.for_batch([{} for _ in range(3)])
    out = service.handle([{"body": digits.render_png(item)} for item in split.x_test[:3]], context)
    assert dict(service.executor_runs) == {3: 1}
    assert [int(r[0]["class"].split()[-1]) for r in out] == list(_direct(net, split.x_test[:3]).argmax(1))


def test_batch_buckets_limit_the_executors(trained_digits, digits_dir):
    """``batch_buckets = ()`` keeps only the full-size executor: a lone request is padded to it."""
    net, split = trained_digits

    class FullSizeOnly(MXNetModelService):
        batch_buckets = ()

    service, context = _load(FullSizeOnly, digits_dir, 4)
    assert service.bucket_sizes == [4]
    answer = _answers(service, context, split.x_test[:1])
    assert dict(service.executor_runs) == {4: 1} and service.executor_sizes == [4]
    np.testing.assert_allclose(answer, _direct(net, split.x_test[:1]), rtol=1e-4, atol=1e-4)


class _RecordingSession:
    """The real onnxruntime session, recording the batch size of every run."""

    def __init__(self, session):
        self._session = session
        self.batches: list[int] = []

    def run(self, names, feeds):
        self.batches.append(next(iter(feeds.values())).shape[0])
        return self._session.run(names, feeds)


def test_onnxruntime_runs_a_dynamic_batch_at_its_own_size(tmp_path):
    """No padding for a model whose batch dimension is symbolic: a lone request is a batch of one."""
    import onnxruntime

    from service_sdk.services import OnnxRuntimeService
    from tests.support import onnx_models

    path = onnx_models.save(onnx_models.dynamic_batch_mlp(), tmp_path / "mlp.onnx")
    context = Context("mlp", str(tmp_path), {"model": {"modelName": "mlp"}}, batch_size=8)
    service = OnnxRuntimeService()
    service.handle(None, context)
    service.session = recorder = _RecordingSession(service.session)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    for count in (1, 3):
        context.for_batch([{} for _ in range(count)])
        out = service.handle([{"body": json.dumps(row.tolist()).encode()} for row in x[:count]], context)
        expected = onnxruntime.InferenceSession(str(path)).run(None, {"features": x[:count]})[0]
        np.testing.assert_allclose([answer["probabilities"] for answer in out], expected, rtol=1e-5)
    assert service.fixed_batch is None and recorder.batches == [1, 3]
