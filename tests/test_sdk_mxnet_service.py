"""MXNetModelService, GluonService and the vision services on the real digits CNN.

Predictions are checked against the held-out labels and against a direct
Gluon forward of the trained network, which also proves the BatchNorm running
statistics travel with the checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service_sdk import Context, ServiceError
from service_sdk.services import GluonService, GluonVisionService, MXNetModelService, MXNetVisionService
from service_sdk.utils.ndarray import softmax
from tests.conftest import DIGITS_NAME
from tests.support import digits


def _load(cls, model_dir: Path, batch_size: int = 4, name: str = DIGITS_NAME):
    context = Context(name, str(model_dir), {"model": {"modelName": name, "handler": "h"}}, batch_size)
    service = cls()
    service.handle(None, context)
    return service, context


def _serve(service, context, bodies):
    context.for_batch([{} for _ in bodies])
    out = service.handle([{"body": b} for b in bodies], context)
    return out, [context.get_response_status(i)[0] for i in range(len(bodies))]


def _direct_logits(net, x: np.ndarray) -> np.ndarray:
    import mxnet as mx

    return net(mx.nd.array(x)).asnumpy()


def _json_bodies(x: np.ndarray) -> list[bytes]:
    return [json.dumps(item.tolist()).encode() for item in x]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_batched_forward_with_short_batches_matches_gluon(trained_digits, digits_dir, batch_size):
    net, split = trained_digits
    service, context = _load(MXNetModelService, digits_dir, batch_size)
    x = split.x_test[:11]  # 11 requests: 4 batches of 3 (last short), 2 of 8 (last short)
    out, statuses = _serve(service, context, _json_bodies(x))
    assert statuses == [200] * 11
    output_name = digits.output_name(digits_dir / f"{DIGITS_NAME}-symbol.json")
    got = np.array([response[output_name] for response in out])
    np.testing.assert_allclose(got, _direct_logits(net, x), rtol=1e-4, atol=1e-4)
    assert (got.argmax(1) == split.y_test[:11]).mean() >= 0.9


def test_batchnorm_statistics_are_the_trained_ones(trained_digits, digits_dir):
    """Zeroing the running statistics changes the outputs, and the service matches the trained ones."""
    import mxnet as mx

    net, split = trained_digits
    service, context = _load(MXNetModelService, digits_dir, 8)
    _, _, aux = mx.model.load_checkpoint(str(digits_dir / DIGITS_NAME), 0)
    assert aux and all(np.abs(v.asnumpy()).sum() > 0 for k, v in aux.items() if "running_mean" in k)
    x = split.x_test[:8]
    served = np.array([list(r.values())[0] for r in _serve(service, context, _json_bodies(x))[0]])
    module_aux = service.module.get_params()[1]
    for name, value in aux.items():
        np.testing.assert_array_equal(module_aux[name].asnumpy(), value.asnumpy())
    fresh = {k: mx.nd.zeros_like(v) if "mean" in k else mx.nd.ones_like(v) for k, v in aux.items()}
    service.module.set_params(service.module.get_params()[0], fresh)
    untrained = np.array([list(r.values())[0] for r in _serve(service, context, _json_bodies(x))[0]])
    assert np.abs(untrained - served).max() > 0.1
    np.testing.assert_allclose(served, _direct_logits(net, x), rtol=1e-4, atol=1e-4)


def test_vision_service_accuracy_on_held_out_pngs(trained_digits, digits_dir):
    net, split = trained_digits
    service, context = _load(MXNetVisionService, digits_dir, 8)
    x, y = split.x_test[:200], split.y_test[:200]
    out, statuses = _serve(service, context, [digits.render_png(item) for item in x])
    assert statuses == [200] * len(x)
    predicted = np.array([int(response[0]["class"].split()[-1]) for response in out])
    assert (predicted == y).mean() >= 0.95
    probabilities = softmax(_direct_logits(net, x), axis=1)
    top = np.array([response[0]["probability"] for response in out])
    np.testing.assert_allclose(top, probabilities.max(1), atol=0.03)  # PNG rounds pixels to 1/255
    assert all(len(response) == service.top_k for response in out)
    assert all(r[0]["probability"] >= r[1]["probability"] for r in out)


def test_vision_batch_mixing_good_and_corrupt_inputs(trained_digits, digits_dir):
    _, split = trained_digits
    service, context = _load(MXNetVisionService, digits_dir, 3)
    good = [digits.render_png(item) for item in split.x_test[:4]]
    alone, _ = _serve(service, context, good)
    bodies = [good[0], good[1][:40], b"", good[1], b"GIF89a garbage", "text body", good[2], good[3]]
    out, statuses = _serve(service, context, bodies)
    assert statuses == [200, 400, 400, 200, 400, 400, 200, 200]
    assert [out[i] for i in (0, 3, 6, 7)] == alone
    assert "content type" in json.loads(out[5])["message"]


def test_wrong_tensor_shape_fails_only_that_request(trained_digits, digits_dir):
    _, split = trained_digits
    service, context = _load(MXNetModelService, digits_dir, 2)
    bodies = _json_bodies(split.x_test[:1]) + [b"[[1, 2], [3, 4]]", b'{"wrong_name": []}', b'[["a"]]']
    out, statuses = _serve(service, context, bodies)
    assert statuses == [200, 400, 400, 400]
    assert "expected [1, 8, 8]" in json.loads(out[1])["message"]
    assert "lacks input" in json.loads(out[2])["message"]


def test_npy_requests_are_accepted(trained_digits, digits_dir):
    import io

    net, split = trained_digits
    service, context = _load(MXNetModelService, digits_dir, 2)
    buffer = io.BytesIO()
    np.save(buffer, split.x_test[0])
    out, statuses = _serve(service, context, [buffer.getvalue()])
    assert statuses == [200]
    np.testing.assert_allclose(list(out[0].values())[0], _direct_logits(net, split.x_test[:1])[0], atol=1e-4)


def _drop_param(model_dir: Path, predicate) -> str:
    import mxnet as mx

    params_file = model_dir / f"{DIGITS_NAME}-0000.params"
    params = mx.nd.load(str(params_file))
    dropped = next(k for k in params if predicate(k))
    del params[dropped]
    mx.nd.save(str(params_file), params)
    return dropped.split(":", 1)[1]


@pytest.mark.parametrize("kind", ["arg:", "aux:"])
def test_missing_parameters_fail_the_load(digits_dir, kind):
    dropped = _drop_param(digits_dir, lambda k: k.startswith(kind))
    with pytest.raises(ServiceError, match=dropped):
        _load(MXNetModelService, digits_dir)


def test_checkpoint_with_another_prefix_is_found_when_alone(trained_digits, digits_dir):
    for suffix in ("-symbol.json", "-0000.params"):
        (digits_dir / f"{DIGITS_NAME}{suffix}").rename(digits_dir / f"exported{suffix}")
    service, _ = _load(MXNetModelService, digits_dir)
    assert service.output_shapes == [(4, 10)]
    (digits_dir / "other-symbol.json").write_text((digits_dir / "exported-symbol.json").read_text())
    with pytest.raises(ServiceError, match="set the service's model_prefix"):
        _load(MXNetModelService, digits_dir)

    class Prefixed(MXNetModelService):
        model_prefix = "exported"

    assert _load(Prefixed, digits_dir)[0].output_names


def test_missing_signature_and_bad_synset_fail_the_load(digits_dir):
    (digits_dir / "synset.txt").write_text("only\ntwo\n")
    with pytest.raises(ServiceError, match="2 labels but the model outputs 10"):
        _load(MXNetVisionService, digits_dir)
    (digits_dir / "signature.json").unlink()
    with pytest.raises(ServiceError, match="signature.json not found"):
        _load(MXNetModelService, digits_dir)


def test_graph_ending_in_softmax_is_not_softmaxed_twice(trained_digits, tmp_path):
    """A SoftmaxOutput head (with its label argument) is detected and served as probabilities."""
    import mxnet as mx

    net, split = trained_digits
    model_dir = digits.export_model_dir(net, tmp_path / "m", DIGITS_NAME)
    symbol, args, aux = mx.model.load_checkpoint(str(model_dir / DIGITS_NAME), 0)
    head = mx.sym.SoftmaxOutput(symbol, name="prob")
    mx.model.save_checkpoint(str(model_dir / DIGITS_NAME), 0, head, args, aux)
    signature = json.loads((model_dir / "signature.json").read_text())
    signature["outputs"][0]["data_name"] = "prob"
    (model_dir / "signature.json").write_text(json.dumps(signature))
    service, context = _load(MXNetVisionService, model_dir, 4)
    assert service.output_is_probability() and not service.softmax_needed
    out, _ = _serve(service, context, [digits.render_png(x) for x in split.x_test[:4]])
    expected = softmax(_direct_logits(net, split.x_test[:4]), axis=1).max(1)
    np.testing.assert_allclose([r[0]["probability"] for r in out], expected, atol=0.03)


def test_gluon_service_matches_the_symbolic_service(trained_digits, digits_dir):
    net, split = trained_digits
    x = split.x_test[:5]
    symbolic = _serve(*_load(MXNetModelService, digits_dir, 2), _json_bodies(x))[0]
    gluon = _serve(*_load(GluonService, digits_dir, 2), _json_bodies(x))[0]
    np.testing.assert_allclose([list(r.values())[0] for r in gluon],
                               [list(r.values())[0] for r in symbolic], rtol=1e-5, atol=1e-5)


def test_gluon_service_with_a_user_built_hybridblock(trained_digits, digits_dir):
    net, split = trained_digits
    net.save_parameters(str(digits_dir / "weights.params"))

    class OwnBlock(GluonVisionService):
        def build_network(self):
            import mxnet as mx

            block = digits.build_net()
            block.load_parameters(self.model_file("weights.params"), ctx=mx.cpu())
            return block

    service, context = _load(OwnBlock, digits_dir, 8)
    assert service.softmax_needed
    x, y = split.x_test[:100], split.y_test[:100]
    out, statuses = _serve(service, context, [digits.render_png(item) for item in x])
    assert statuses == [200] * 100
    assert np.mean([int(r[0]["class"].split()[-1]) for r in out] == y) >= 0.95


def test_a_batch_with_every_request_rejected_gets_only_4xx(digits_dir):
    service, context = _load(MXNetVisionService, digits_dir, 4)
    out, statuses = _serve(service, context, [b"", b"junk", "text"])
    assert statuses == [400, 400, 400]
    assert all(json.loads(body)["code"] == 400 for body in out)
