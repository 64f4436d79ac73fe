"""Read the header of an MXNet NDArray-list file (``.params``) without its data.

MXNet's ``NDArray::Save`` writes (little-endian): a ``uint64`` list magic
(``0x112``) and a reserved ``uint64``; a ``uint64`` array count and, per array,
a version magic, storage type, optional storage shape, shape, context, dtype
flag, sparse aux types/shapes and then the raw data; finally a ``uint64`` name
count and length-prefixed names. This module walks that layout the way
``NDArray::Load`` does but seeks over every data block, so a multi-GiB
checkpoint is checked in milliseconds with flat memory and no ``import mxnet``.
Every offset is compared with the file size before seeking, which is how a
truncated file is caught without reading it.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from math import prod
from typing import BinaryIO

from model_archiver.errors import ArchiverError

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8  # int64 shapes, no storage type
V2_MAGIC = 0xF993FAC9  # storage type added
V3_MAGIC = 0xF993FACA  # numpy shape semantics (0-d and zero-size arrays)

# mshadow type flags -> (numpy-style name, item size in bytes).
DTYPES: dict[int, tuple[str, int]] = {
    0: ("float32", 4),
    1: ("float64", 8),
    2: ("float16", 2),
    3: ("uint8", 1),
    4: ("int32", 4),
    5: ("int8", 1),
    6: ("int64", 8),
    7: ("bool", 1),
    8: ("int16", 2),
    9: ("uint16", 2),
    10: ("uint32", 4),
    11: ("uint64", 8),
    12: ("bfloat16", 2),
}
FLOAT_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16"})
# storage type -> (name, number of aux arrays: row_sparse has indices, csr indptr+indices)
STORAGE: dict[int, tuple[str, int]] = {0: ("default", 0), 1: ("row_sparse", 1), 2: ("csr", 2)}
# MXNet itself has no hard limit; anything past numpy's 32 means the bytes are not a shape.
MAX_NDIM = 32
_SKIP_CHUNK = 1 << 20
_CONTEXT_BYTES = 8  # int32 device type + int32 device id
_MIN_ARRAY_BYTES = 12  # magic + storage type + ndim: the smallest possible array header


class ParamsFormatError(ArchiverError):
    """The file is not an NDArray list MXNet could load (wrong magic, truncated, corrupt)."""


@dataclass(frozen=True)
class ArrayHeader:
    """One array's header. ``shape`` is None for an empty ("none") array, which holds no data."""

    shape: tuple[int, ...] | None
    dtype: str | None
    storage: str
    version: str
    offset: int
    nbytes: int


@dataclass(frozen=True)
class ParamsHeader:
    """Every array header and the names, in file order; ``size`` is the file's length."""

    arrays: list[ArrayHeader]
    names: list[str]
    size: int

    def by_name(self) -> dict[str, ArrayHeader]:
        """Arrays keyed by saved name (the last wins on duplicates, as MXNet's dict does)."""
        return dict(zip(self.names, self.arrays))


def read_params_header(stream: BinaryIO, size: int) -> ParamsHeader:
    """Parse the header of a ``.params`` stream of ``size`` bytes, skipping all data.

    Raises :class:`ParamsFormatError` with a one-line reason when MXNet would fail
    to load the file.
    """
    cursor = _Cursor(stream, size)
    magic = cursor.u64("list magic")
    cursor.u64("reserved field")
    if magic != LIST_MAGIC:
        raise ParamsFormatError(
            f"not an MXNet NDArray file (starts with 0x{magic:x}, expected 0x{LIST_MAGIC:x})"
        )
    count = cursor.u64("array count")
    if count * _MIN_ARRAY_BYTES > size - cursor.pos:
        raise ParamsFormatError(f"corrupt: claims {count} arrays but only {size - cursor.pos} bytes follow")
    arrays = [_read_array(cursor, index) for index in range(count)]
    name_count = cursor.u64("name count")
    if name_count not in (0, count):
        raise ParamsFormatError(f"corrupt: {count} arrays but {name_count} names")
    names = [cursor.string(f"name #{i}") for i in range(name_count)]
    return ParamsHeader(arrays, names, size)


class _Cursor:
    """Sequential reads and bounds-checked skips over a stream of known size."""

    def __init__(self, stream: BinaryIO, size: int):
        self.stream = stream
        self.size = size
        self.pos = 0
        self._seekable = _is_seekable(stream)

    def _need(self, count: int, what: str) -> None:
        if count < 0 or self.pos + count > self.size:
            raise ParamsFormatError(
                f"truncated: {what} needs {count} bytes at offset {self.pos} but the file ends at {self.size}"
            )

    def read(self, count: int, what: str) -> bytes:
        self._need(count, what)
        data = self.stream.read(count)
        if len(data) != count:
            raise ParamsFormatError(f"truncated: {what} at offset {self.pos}: got {len(data)} of {count} bytes")
        self.pos += count
        return data

    def skip(self, count: int, what: str) -> None:
        self._need(count, what)
        if self._seekable:
            self.stream.seek(count, 1)
        else:
            remaining = count
            while remaining:
                chunk = self.stream.read(min(remaining, _SKIP_CHUNK))
                if not chunk:
                    raise ParamsFormatError(f"truncated: {what} at offset {self.pos}")
                remaining -= len(chunk)
        self.pos += count

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.read(4, what))[0]

    def i32(self, what: str) -> int:
        return struct.unpack("<i", self.read(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack("<Q", self.read(8, what))[0]

    def string(self, what: str) -> str:
        length = self.u64(f"{what} length")
        raw = self.read(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParamsFormatError(f"corrupt: {what} is not UTF-8") from None

    def shape(self, what: str, dim_format: str = "<q", ndim: int | None = None) -> tuple[int, ...]:
        if ndim is None:
            ndim = self.i32(f"{what} ndim")
        if not 0 <= ndim <= MAX_NDIM:
            raise ParamsFormatError(f"corrupt: {what} has {ndim} dimensions")
        width = struct.calcsize(dim_format)
        raw = self.read(width * ndim, what)
        dims = tuple(struct.unpack(f"<{ndim}{dim_format[-1]}", raw))
        if any(d < -1 for d in dims):
            raise ParamsFormatError(f"corrupt: {what} {dims} has negative dimensions")
        return dims


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _read_array(cursor: _Cursor, index: int) -> ArrayHeader:
    what = f"array #{index}"
    magic = cursor.u32(f"{what} magic")
    if magic in (V2_MAGIC, V3_MAGIC):
        return _read_current(cursor, what, "v3" if magic == V3_MAGIC else "v2")
    return _read_legacy(cursor, what, magic)


def _read_current(cursor: _Cursor, what: str, version: str) -> ArrayHeader:
    """V2/V3 layout, mirroring ``NDArray::Load`` (including when it stops early)."""
    stype = cursor.i32(f"{what} storage type")
    if stype not in STORAGE:
        raise ParamsFormatError(f"corrupt: {what} has unknown storage type {stype}")
    storage, aux_count = STORAGE[stype]
    if aux_count:
        cursor.shape(f"{what} storage shape")  # MXNet re-derives it from the aux shapes on load
    shape = cursor.shape(f"{what} shape")
    known = all(d >= 0 for d in shape) if version == "v3" else len(shape) > 0
    if not known:
        return ArrayHeader(None, None, storage, version, cursor.pos, 0)
    if version == "v2" and any(d < 0 for d in shape):
        raise ParamsFormatError(f"corrupt: {what} shape {shape} has unknown dimensions")
    cursor.skip(_CONTEXT_BYTES, f"{what} context")
    dtype, item = _dtype(cursor, what)
    aux_shapes = []
    nbytes = 0
    for aux in range(aux_count):
        _, aux_item = _dtype(cursor, f"{what} aux #{aux}")
        aux_shapes.append(cursor.shape(f"{what} aux #{aux} shape"))
        nbytes += aux_item * prod(aux_shapes[-1])
    nbytes += item * _stored_elements(storage, shape, aux_shapes)
    offset = cursor.pos
    cursor.skip(nbytes, f"{what} data")
    return ArrayHeader(shape, dtype, storage, version, offset, nbytes)


def _stored_elements(storage: str, shape: tuple[int, ...], aux_shapes: list[tuple[int, ...]]) -> int:
    """How many values the data block holds, derived as MXNet's loader allocates it.

    Row-sparse stores one row per saved index (aux #0); CSR one value per
    column index (aux #1).
    """
    if storage == "row_sparse":
        return (aux_shapes[0][0] if aux_shapes[0] else 0) * prod(shape[1:])
    if storage == "csr":
        return prod(aux_shapes[1])
    return prod(shape)


def _read_legacy(cursor: _Cursor, what: str, magic: int) -> ArrayHeader:
    """Files from MXNet before storage types: V1 (int64 dims) or older (the magic is ndim)."""
    if magic == V1_MAGIC:
        version, shape = "v1", cursor.shape(f"{what} shape")
    else:
        version, shape = "v0", cursor.shape(f"{what} shape", "<I", ndim=magic)
    if any(d < 0 for d in shape):
        return ArrayHeader(None, None, "default", version, cursor.pos, 0)
    cursor.skip(_CONTEXT_BYTES, f"{what} context")
    dtype, item = _dtype(cursor, what)
    offset = cursor.pos
    nbytes = item * prod(shape)
    cursor.skip(nbytes, f"{what} data")
    return ArrayHeader(shape, dtype, "default", version, offset, nbytes)


def _dtype(cursor: _Cursor, what: str) -> tuple[str, int]:
    flag = cursor.i32(f"{what} dtype")
    if flag not in DTYPES:
        raise ParamsFormatError(f"corrupt: {what} has unknown dtype flag {flag}")
    return DTYPES[flag]
