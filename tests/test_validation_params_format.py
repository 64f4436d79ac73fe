"""The header-only .params parser agrees with MXNet's own loader on real files."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from model_archiver.validation.params_format import ParamsFormatError, read_params_header
from tests.conftest import DIGITS_NAME


def parse(path: Path):
    with path.open("rb") as stream:
        return read_params_header(stream, path.stat().st_size)


def assert_matches_mxnet(path: Path, np_shape: bool = False) -> None:
    """Names, shapes, dtypes and data offsets equal what mx.nd.load returns."""
    import mxnet as mx

    with mx.util.np_shape(np_shape), mx.util.np_array(np_shape):
        loaded = (mx.npx.load if np_shape else mx.nd.load)(str(path))
    header = parse(path)
    assert header.names == list(loaded)
    raw = path.read_bytes()
    for name, array in header.by_name().items():
        expected = loaded[name]
        assert array.shape == expected.shape, name
        assert array.dtype == np.dtype(expected.dtype).name, name
        if array.storage == "default":
            values = expected.asnumpy()
            assert raw[array.offset: array.offset + array.nbytes] == values.tobytes(), name


def test_dense_arrays_of_every_common_dtype(tmp_path):
    import mxnet as mx

    base = np.arange(3 * 5 * 7 * 11 * 2).reshape(3, 5, 7, 11, 2) % 120
    arrays = {f"arg:{dtype}": mx.nd.array(base, dtype=dtype) for dtype in
              ("float32", "float64", "float16", "uint8", "int8", "int32", "int64")}
    arrays["aux:one"] = mx.nd.array([1.5])
    arrays["arg:wide"] = mx.nd.zeros((1, 70000))
    path = tmp_path / "a.params"
    mx.nd.save(str(path), arrays)
    assert_matches_mxnet(path)


def test_sparse_arrays(tmp_path):
    import mxnet as mx

    dense = mx.nd.array([[0, 1, 0], [0, 0, 0], [2, 0, 3]])
    path = tmp_path / "s.params"
    mx.nd.save(str(path), {"rs": dense.tostype("row_sparse"), "csr": dense.tostype("csr"), "d": dense})
    assert_matches_mxnet(path)
    header = parse(path).by_name()
    assert (header["rs"].storage, header["csr"].storage) == ("row_sparse", "csr")


def test_numpy_semantics_zero_dim_zero_size_and_bool(tmp_path):
    import mxnet as mx

    path = tmp_path / "np.params"
    with mx.util.np_shape(True), mx.util.np_array(True):
        mx.npx.save(str(path), {"scalar": mx.np.array(2.5), "empty": mx.np.zeros((0, 4)),
                                "mask": mx.np.ones((2, 3), dtype="bool")})
    assert_matches_mxnet(path, np_shape=True)
    assert parse(path).by_name()["scalar"].shape == ()


def test_gluon_export_of_trained_digits(digits_export):
    assert_matches_mxnet(digits_export / f"{DIGITS_NAME}-0000.params")
    names = parse(digits_export / f"{DIGITS_NAME}-0000.params").names
    assert any(n.startswith("aux:") for n in names) and any(n.startswith("arg:") for n in names)


def test_legacy_zero_dim_array_is_unloadable_like_in_mxnet(tmp_path):
    """MXNet 1.x saves a 0-d NDArray it cannot load back; the parser refuses the file too."""
    import mxnet as mx

    path = tmp_path / "zero-d.params"
    mx.nd.save(str(path), {"s": mx.nd.array(5), "t": mx.nd.ones((2,))})
    with pytest.raises(mx.base.MXNetError):
        mx.nd.load(str(path))
    with pytest.raises(ParamsFormatError):
        parse(path)


def test_legacy_v1_layout_loaded_by_mxnet(tmp_path):
    """Checkpoints from MXNet < 1.0 (V1 magic, no storage type) still load; so must they parse."""
    values = np.arange(6, dtype="float32").reshape(2, 3)
    blob = struct.pack("<QQQ", 0x112, 0, 1)
    blob += struct.pack("<Ii", 0xF993FAC8, 2) + struct.pack("<qq", 2, 3) + struct.pack("<iii", 1, 0, 0)
    blob += values.tobytes() + struct.pack("<QQ", 1, 6) + b"arg:w1"
    path = tmp_path / "v1.params"
    path.write_bytes(blob)
    assert_matches_mxnet(path)


def test_every_truncation_is_reported(tmp_path):
    import mxnet as mx

    path = tmp_path / "t.params"
    mx.nd.save(str(path), {"arg:w": mx.nd.ones((4, 3)), "aux:m": mx.nd.zeros((3,))})
    raw = path.read_bytes()
    for cut in range(len(raw)):
        with pytest.raises(ParamsFormatError, match="truncated|corrupt"):
            read_params_header(io.BytesIO(raw[:cut]), cut)


def test_streams_that_cannot_seek_are_skipped_through(digits_export):
    path = digits_export / f"{DIGITS_NAME}-0000.params"

    class Forward(io.RawIOBase):
        def __init__(self, data: bytes):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, buffer):
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = path.read_bytes()
    assert read_params_header(io.BufferedReader(Forward(data)), len(data)) == parse(path)


def test_wrong_magic_and_absurd_counts(tmp_path):
    with pytest.raises(ParamsFormatError, match="not an MXNet NDArray file"):
        read_params_header(io.BytesIO(b"\x89PNG" + b"\0" * 40), 44)
    blob = struct.pack("<QQQ", 0x112, 0, 10**12)
    with pytest.raises(ParamsFormatError, match="claims 1000000000000 arrays"):
        read_params_header(io.BytesIO(blob), len(blob))
