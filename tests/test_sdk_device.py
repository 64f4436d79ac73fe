"""Device selection: EIA > assigned GPU > CPU, overrides, and what the model binds on.

Stock MXNet has neither Elastic Inference nor a GPU here, so the selection
logic is exercised with injected capabilities; the real probe and the CPU
binding run against the installed MXNet.
"""
from __future__ import annotations

import pytest

from service_sdk import device
from service_sdk.device import Capabilities, select_device
from service_sdk.errors import ServiceError

LEGACY_EI = Capabilities(legacy_eia=True)
EIMX = Capabilities(eimx=True)
TWO_GPUS = Capabilities(num_gpus=2)
NOTHING = Capabilities()


def test_eia_wins_over_an_assigned_gpu():
    choice = select_device(1, capabilities=Capabilities(legacy_eia=True, num_gpus=2))
    assert choice.kind == "eia" and choice.backend is None
    assert "Elastic Inference" in choice.reason


def test_ei_mxnet_17_uses_the_eia_partitioning_backend():
    choice = select_device(None, capabilities=EIMX)
    assert (choice.kind, choice.backend) == ("eia", "EIA")
    assert not choice.copies_inputs


def test_assigned_gpu_is_used_when_mxnet_sees_gpus():
    choice = select_device(1, capabilities=TWO_GPUS)
    assert (choice.kind, choice.device_id) == ("gpu", 1)
    assert choice.copies_inputs


def test_assigned_gpu_without_gpu_support_falls_back_to_cpu_with_the_reason():
    choice = select_device(0, capabilities=NOTHING)
    assert choice.kind == "cpu"
    assert "sees no GPU" in choice.reason


def test_gpus_present_but_none_assigned_means_cpu():
    assert select_device(None, capabilities=TWO_GPUS).kind == "cpu"


def test_assigned_gpu_beyond_the_visible_ones_is_an_error():
    with pytest.raises(ServiceError, match="assigned GPU 3"):
        select_device(3, capabilities=TWO_GPUS)


@pytest.mark.parametrize("requested,caps,kind", [
    ("cpu", Capabilities(legacy_eia=True, num_gpus=2), "cpu"),
    ("gpu", TWO_GPUS, "gpu"),
    ("eia", EIMX, "eia"),
])
def test_forced_choice_is_honoured(requested, caps, kind):
    choice = select_device(0, requested, caps)
    assert choice.kind == kind and choice.reason.startswith("forced")


@pytest.mark.parametrize("requested,message", [("eia", "no Elastic Inference"), ("gpu", "sees no GPU")])
def test_forced_choice_the_machine_cannot_honour_fails(requested, message):
    with pytest.raises(ServiceError, match=message):
        select_device(0, requested, NOTHING)


def test_environment_variable_beats_the_class_attribute(monkeypatch):
    monkeypatch.setenv(device.ENV_VAR, "CPU")
    assert device.requested_device("gpu") == "cpu"
    monkeypatch.delenv(device.ENV_VAR)
    assert device.requested_device("gpu") == "gpu"
    assert device.requested_device(None) == "auto"


def test_invalid_override_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(device.ENV_VAR, "tpu")
    with pytest.raises(ServiceError, match="invalid device 'tpu'"):
        device.requested_device(None)


def test_probe_of_stock_mxnet_finds_no_accelerator():
    import mxnet as mx

    caps = device.probe_capabilities()
    assert not caps.has_eia
    assert caps.num_gpus == mx.context.num_gpus()


def test_cpu_choice_binds_on_cpu_and_inputs_stay_on_cpu():
    import mxnet as mx

    assert select_device(None, capabilities=NOTHING).model_context() == mx.cpu()
    assert device.input_context() == mx.cpu()
    assert select_device(1, capabilities=TWO_GPUS).model_context() == mx.gpu(1)


def test_choice_is_logged_with_the_one_worker_per_accelerator_advice(caplog):
    caplog.set_level("INFO", logger="service_sdk.device")
    device.log_choice(select_device(None, capabilities=LEGACY_EI), "resnet")
    text = caplog.text
    assert "model resnet runs on eia" in text
    assert f"{device.EIA_WORKERS_PER_ACCELERATOR} worker per accelerator" in text
