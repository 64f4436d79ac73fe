"""Property-based fuzzing of the request decoders: any bytes, any content type.

Every decoder a request body meets in a worker - the bounded JSON loader, the
body decoding the SDK takes over from MMS, ``request_body``/``request_json``,
the tensor decoding (``request_values``, ``as_item``, the ``.npy`` header
check, the finiteness check) and the image entry point - must end in a value
or in :class:`RequestError` (a 4xx for that one slot), never in another
exception, which would fail the whole batch (503) or the worker.

Inputs are random bytes and mutations (byte flips, cuts, splices) of real
seeds: JSON tensors, ``.npy`` files and small images in every common format.
The budget is fixed and the runs are reproducible (``derandomize=True``);
together they take well under 40 s.
"""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service_sdk.errors import RequestError
from service_sdk.request_bodies import decode_value, request_body, request_json
from service_sdk.request_limits import RequestLimits, check_finite, check_npy_header
from service_sdk.signature import TensorSpec
from service_sdk.tensor_requests import as_item, load_npy, request_values
from service_sdk.utils import bounded_json
from service_sdk.utils.image import read_image

# A fixed, reproducible budget: about 30 s for the module on one core.
FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=1000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONTENT_TYPES = st.one_of(
    st.sampled_from(["application/json", "text/plain", "text/csv", "application/octet-stream", "image/png",
                     "", "application/x-www-form-urlencoded", "application/json; charset=utf-8"]),
    st.text(max_size=30),
)
SPECS = [TensorSpec("data", (0, 2, 3))]
TWO_INPUTS = [TensorSpec("a", (0, 2)), TensorSpec("b", (0, 3))]


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _image(kind: str, mode: str) -> bytes:
    from PIL import Image

    picture = Image.linear_gradient("L").resize((12, 10)).convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, format=kind)
    return buffer.getvalue()


TENSOR_SEEDS = [
    json.dumps(np.arange(6.0).reshape(2, 3).tolist()).encode(),
    json.dumps({"data": [[1, 2, 3], [4, 5, 6]]}).encode(),
    json.dumps({"a": [1, 2], "b": [[3, 4, 5]]}).encode(),
    b'[[1e308, -1e-308, 0.5], [NaN, Infinity, -0.0]]',
    _npy(np.arange(6, dtype="<f4").reshape(1, 2, 3)),
    _npy(np.asfortranarray(np.ones((2, 3), dtype=">f8"))),
    _npy(np.zeros((2, 3), dtype="int16")),
    _npy(np.array([True, False])),
    # Found by a longer random run: numpy's dtype parser raised SyntaxError.
    _npy(np.zeros((2, 3), dtype="<i2")).replace(b"'<i2'", b"',<i2'"),
]
IMAGE_SEEDS = [_image(kind, mode) for kind, mode in [
    ("PNG", "L"), ("PNG", "RGBA"), ("JPEG", "RGB"), ("GIF", "P"), ("BMP", "RGB"), ("TIFF", "RGB"),
    ("WEBP", "RGB"), ("ICO", "RGBA"), ("PPM", "RGB"), ("TGA", "RGB"), ("DDS", "RGBA"), ("IM", "RGB"),
    ("SPIDER", "F"), ("PCX", "RGB"), ("SGI", "RGB"),
]]
# One-byte mutations a longer random run found escaping Pillow as TypeError,
# NotImplementedError or AttributeError (which used to fail the whole batch):
# (format, mode, offset, new byte, cut to this length).
PILLOW_FINDINGS = [("TIFF", "RGB", 72, 5, None), ("IM", "RGB", 40, 46, None), ("DDS", "RGBA", 80, 0, None),
                   ("SPIDER", "F", 107, 75, 804)]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few byte flips, then maybe cut short or spliced with random bytes."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    action = draw(st.sampled_from(["keep", "cut", "splice"]))
    if action == "cut":
        data = data[:draw(st.integers(0, len(data)))]
    elif action == "splice":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=40))
    return bytes(data)


BODIES = st.one_of(st.binary(max_size=200), mutated(TENSOR_SEEDS), mutated(IMAGE_SEEDS),
                   st.text(max_size=100).map(str.encode))


def _decodes_or_refuses(action) -> object:
    try:
        return action()
    except RequestError as error:
        assert 400 <= error.status < 500 and error.message
        return None


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), mutated(TENSOR_SEEDS)))
def test_bounded_json_returns_what_json_returns_or_refuses(document):
    try:
        value = bounded_json.loads(document, max_depth=8, max_int_digits=20)
    except bounded_json.JSONLimitError:
        return
    assert json.dumps(value, sort_keys=True) == json.dumps(json.loads(document), sort_keys=True)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(FUZZ, max_examples=500)
@given(JSON_VALUES)
def test_bounded_json_accepts_every_document_within_its_limits(value):
    text = json.dumps(value)
    max_depth = 4
    if _depth(value) > max_depth:
        with pytest.raises(bounded_json.JSONLimitError, match="nested deeper"):
            bounded_json.loads(text, max_depth=max_depth)
    else:
        assert bounded_json.loads(text, max_depth=max_depth) == json.loads(text)


@FUZZ
@given(BODIES, CONTENT_TYPES, st.sampled_from(["body", "data", "file"]), st.booleans())
def test_any_body_with_any_content_type_is_a_value_or_a_request_error(body, content_type, name, as_bytearray):
    raw = bytearray(body) if as_bytearray else body
    request = {name: decode_value(raw, content_type, RequestLimits(max_json_bytes=150))}
    _decodes_or_refuses(lambda: request_body(request))
    _decodes_or_refuses(lambda: request_json(request))
    for specs in (SPECS, TWO_INPUTS):
        values = _decodes_or_refuses(lambda: request_values(request, specs))
        if values is None:
            continue
        for value, spec in zip(values, specs):
            item = _decodes_or_refuses(lambda: as_item(value, spec))
            if item is not None:
                assert item.shape == spec.item_shape and item.dtype == np.float32
                finite = _decodes_or_refuses(lambda: check_finite([item]) or True)
                assert bool(finite) == bool(np.isfinite(item).all())


@FUZZ
@given(mutated([seed for seed in TENSOR_SEEDS if seed.startswith(b"\x93NUMPY")]))
def test_npy_bodies_never_allocate_more_than_they_carry(body):
    array = _decodes_or_refuses(lambda: load_npy(body))
    if array is not None:
        header = check_npy_header(body)
        assert array.shape == header.shape and array.nbytes <= len(body)


@FUZZ
@given(st.tuples(st.integers(0, 2 ** 64), st.integers(0, 2 ** 40)), st.sampled_from(["<f8", "|u1", "<c16", "|b1"]),
       st.binary(max_size=64))
def test_npy_headers_claiming_any_shape_are_checked_against_the_body(shape, descr, payload):
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".ljust(117) + "\n"
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload
    array = _decodes_or_refuses(lambda: load_npy(body))
    count = math.prod(shape)
    fits = count * np.dtype(descr).itemsize <= len(payload)
    if array is not None:
        assert fits and array.shape == shape
    elif count:  # an empty array may still be refused for absurd dimensions (numpy cannot index them)
        assert not fits


@FUZZ
@given(st.one_of(mutated(IMAGE_SEEDS), st.binary(max_size=200)), st.sampled_from(["L", "RGB"]),
       st.sampled_from([None, (8, 8)]))
def test_image_bytes_decode_or_fail_their_own_request(body, mode, size_hint):
    picture = _decodes_or_refuses(lambda: read_image(body, mode, size_hint, max_pixels=10_000))
    if picture is not None:
        assert picture.mode == mode and picture.size[0] * picture.size[1] <= 10_000


@pytest.mark.parametrize("kind,mode,offset,value,cut", PILLOW_FINDINGS)
def test_pillow_decoder_failures_found_by_fuzzing_fail_only_their_request(kind, mode, offset, value, cut):
    data = bytearray(_image(kind, mode))
    data[offset] = value
    for target_mode in ("L", "RGB"):
        _decodes_or_refuses(lambda: read_image(bytes(data[:cut]), target_mode, None, max_pixels=10_000))
