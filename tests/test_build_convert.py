"""`model-archiver -c`: an ONNX file in the model path becomes a validated,
servable MXNet checkpoint inside the archive, and the user's folder is untouched."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from model_archiver import build_archive
from model_archiver.errors import UsageError
from service_sdk.runner import RequestInput, run_archive
from tests.support import digits

VISION_HANDLER = "from service_sdk.services import MXNetVisionService\n\nhandle = MXNetVisionService.entry_point()\n"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def onnx_model_dir(trained_digits, digits_export, tmp_path_factory) -> Path:
    """The trained digits CNN exported to ONNX by MXNet, with a handler and synset, no checkpoint."""
    import mxnet.onnx
    import numpy as np

    folder = tmp_path_factory.mktemp("onnx-model")
    mxnet.onnx.export_model(str(digits_export / "digits-symbol.json"), str(digits_export / "digits-0000.params"),
                            [(1, 1, 8, 8)], [np.float32], str(folder / "exported.onnx"),
                            dynamic=True, dynamic_input_shapes=[(None, 1, 8, 8)])
    (folder / "service.py").write_text(VISION_HANDLER)
    (folder / "synset.txt").write_text((digits_export / "synset.txt").read_text())
    return folder


def test_convert_builds_a_servable_archive_without_touching_the_model_path(onnx_model_dir, trained_digits,
                                                                           tmp_path):
    before = snapshot(onnx_model_dir)
    result = build_archive(onnx_model_dir, model_name="digits", handler="service:handle", export_path=tmp_path,
                           convert=True, input_type="image/png")
    assert snapshot(onnx_model_dir) == before
    assert result.problems == []  # the converted checkpoint passed every build-time check
    with zipfile.ZipFile(result.path) as zf:
        names = set(zf.namelist())
        signature = json.loads(zf.read("signature.json"))
    assert {"digits-symbol.json", "digits-0000.params", "signature.json", "service.py", "synset.txt"} <= names
    assert "exported.onnx" not in names
    assert signature["input_type"] == "image/png"
    assert signature["inputs"][0]["data_shape"] == [0, 1, 8, 8]
    assert result.manifest["engine"]["engineName"] == "MXNet"

    import mxnet as mx
    import numpy as np

    net, split = trained_digits
    images = split.x_test[:24]
    requests = [RequestInput(digits.render_png(image), "image/png") for image in images]
    run = run_archive(result.path, requests, batch_size=8)
    assert run.ok
    predicted = [int(r.json()[0]["class"].split()[-1]) for r in run.responses]
    as_decoded = np.rint(images * 255.0) / 255.0  # what the service sees after PNG decoding
    expected = net(mx.nd.array(as_decoded)).asnumpy().argmax(axis=1)
    assert predicted == expected.tolist()


def test_two_onnx_files_are_refused(onnx_model_dir, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for name in ("a.onnx", "b.onnx"):
        (model / name).write_bytes((onnx_model_dir / "exported.onnx").read_bytes())
    (model / "service.py").write_text(VISION_HANDLER)
    with pytest.raises(UsageError, match="expects one .onnx file in the model path, found 2: a.onnx, b.onnx"):
        build_archive(model, model_name="m", handler="service:handle", export_path=tmp_path / "out", convert=True)
    assert not (tmp_path / "out").exists()


def test_convert_with_input_shape_sizes_symbolic_dims_from_the_command_line(tmp_path):
    from click.testing import CliRunner

    from model_archiver.cli import cli
    from tests.support import onnx_models

    model = onnx_models.dynamic_batch_mlp()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "features"  # symbolic: needs a size
    folder = tmp_path / "mlp"
    folder.mkdir()
    onnx_models.save(model, folder / "mlp.onnx")
    (folder / "mlp_service.py").write_text("from service_sdk.services import MXNetModelService\n\n"
                                           "handle = MXNetModelService.entry_point()\n")
    args = ["--model-name", "mlp", "--model-path", str(folder), "--handler", "mlp_service:handle", "-c",
            "--export-path", str(tmp_path / "out")]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 5 and "--input-shape features=" in refused.stderr
    built = CliRunner().invoke(cli, [*args, "--input-shape", "features=1,4"])
    assert built.exit_code == 0, built.output
    with zipfile.ZipFile(tmp_path / "out" / "mlp.mar") as archive:
        signature = json.loads(archive.read("signature.json"))
    assert signature["inputs"] == [{"data_name": "features", "data_shape": [0, 4]}]
