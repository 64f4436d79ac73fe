"""Property-based fuzzing of everything that parses untrusted bytes, with fixed budgets.

Each property: whatever the bytes, the parser returns or raises the one
documented error type - never another exception, a hang or unbounded work.
Budgets are fixed (``derandomize=True``, so CI runs the same examples every
time) and sized to keep this module well under a minute.
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import struct
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_archiver.errors import ArchiverError
from model_archiver.reading.reader import open_archive
from model_archiver.reading.verify import verify_archive
from model_archiver.record import parse_record
from model_archiver.safety.entry_names import name_problem
from model_archiver.safety.json_members import JSONLimitError, parse
from model_archiver.validation.params_format import ParamsFormatError, read_params_header
from model_archiver.validation.symbol import parse_graph
from model_archiver.validation.signature import load_signature
from tests.adversarial.archives import Entry, base_entries, write_tar, write_zip

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


# -- JSON loader ---------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=300) | st.text(alphabet='[]{}",:0123456789-.eE ntrufalse\\', max_size=300).map(str.encode))
def test_json_loader_returns_or_raises_its_one_error(raw: bytes) -> None:
    try:
        parse(raw, "fuzz")
    except JSONLimitError as exc:
        assert str(exc).startswith("fuzz")


@FUZZ
@given(json_values)
def test_json_loader_agrees_with_json_on_documents_within_limits(value: object) -> None:
    text = json.dumps(value)
    assert parse(text, "fuzz") == json.loads(text)


@settings(derandomize=True, database=None, deadline=None, max_examples=30)
@given(st.integers(min_value=65, max_value=50_000), st.sampled_from(["[", '{"a":']))
def test_json_loader_refuses_deep_nesting(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    try:
        parse(opener * depth + ("1" if opener != "[" else "") + closer * depth, "fuzz")
    except JSONLimitError as exc:
        assert "nested" in str(exc)
    else:
        raise AssertionError("deep nesting was accepted")


# -- entry names ----------------------------------------------------------------
@settings(derandomize=True, database=None, deadline=None, max_examples=400)
@given(st.text(alphabet=st.sampled_from(list("ab./\\:C\x00\n ")) | st.characters(), max_size=30))
def test_a_safe_name_always_lands_inside_the_target(name: str) -> None:
    if name_problem(name) is not None:
        return
    joined = posixpath.normpath(posixpath.join("/target/root", name))
    assert joined.startswith("/target/root/")
    assert "\\" not in name and not name.startswith("/") and ".." not in name.split("/")
    assert os.path.normpath(name) == name.rstrip("/")  # nothing for a normaliser to rewrite


# -- RECORD, symbol, signature ------------------------------------------------------
@FUZZ
@given(json_values | st.builds(lambda files: {"algorithm": "sha256", "files": files}, json_values))
def test_record_parser_raises_only_integrity_errors(value: object) -> None:
    try:
        parse_record(json.dumps(value).encode())
    except ArchiverError as exc:
        assert exc.exit_code == 4


node = st.fixed_dictionaries({"op": st.sampled_from(["null", "FullyConnected", "Convolution", "BatchNorm",
                                                     "SoftmaxOutput", "Embedding", "Custom"]),
                              "name": st.text(max_size=5),
                              "inputs": st.lists(st.lists(st.integers(-1, 6), min_size=0, max_size=3), max_size=3)},
                             optional={"attrs": st.dictionaries(st.sampled_from(["num_hidden", "kernel", "no_bias",
                                                                                 "num_filter", "__shape__",
                                                                                 "input_dim", "output_dim"]),
                                                                json_values, max_size=3)})
graphs = st.fixed_dictionaries({"nodes": st.lists(node, max_size=6), "arg_nodes": st.lists(st.integers(-1, 6), max_size=4),
                                "heads": st.lists(st.lists(st.integers(-1, 6), max_size=3), max_size=2)})


@FUZZ
@given(graphs | json_values)
def test_symbol_parser_and_graph_queries_never_crash(document: object) -> None:
    graph, problems = parse_graph(json.dumps(document).encode(), "m-symbol.json")
    if graph is None:
        assert problems
        return
    graph.class_count()
    graph.expected_shapes()
    graph.labels()
    for name in graph.variables:
        graph.role(name)
        graph.looks_like_parameter(name)


@FUZZ
@given(json_values | st.fixed_dictionaries({"inputs": st.lists(st.fixed_dictionaries(
    {"data_name": json_values, "data_shape": st.lists(json_values, max_size=3)}), max_size=2)}))
def test_signature_loader_returns_problems_not_exceptions(document: object) -> None:
    load_signature(json.dumps(document).encode())


# -- .params header -------------------------------------------------------------------
def _valid_params() -> bytes:
    body = struct.pack("<QQQ", 0x112, 0, 1)
    body += struct.pack("<Iii", 0xF993FACA, 0, 2) + struct.pack("<qq", 2, 3) + struct.pack("<ii", 1, 0)
    body += struct.pack("<i", 0) + bytes(24)
    body += struct.pack("<QQ", 1, 9) + b"arg:fc_w\x00"[:9]
    return body


@FUZZ
@given(st.binary(max_size=200) | st.builds(lambda cut, flips: _mutate(_valid_params(), cut, flips),
                                           st.integers(0, 120), st.lists(st.tuples(st.integers(0, 119),
                                                                                   st.integers(0, 255)), max_size=4)))
def test_params_header_parser_raises_only_its_error(raw: bytes) -> None:
    try:
        header = read_params_header(io.BytesIO(raw), len(raw))
    except ParamsFormatError:
        return
    assert all(a.nbytes <= len(raw) for a in header.arrays)


def _mutate(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: max(cut, 0) or len(data)])
    for index, value in flips:
        if index < len(out):
            out[index] = value
    return bytes(out)


# -- archive readers --------------------------------------------------------------------
def _seed_archives() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as scratch:
        entries = base_entries([Entry("data.bin", os.urandom(300)), Entry("a/b.txt", b"hello " * 50)])
        return {"zip": write_zip(Path(scratch, "a.mar"), entries).read_bytes(),
                "stored": write_zip(Path(scratch, "s.mar"), entries, zipfile.ZIP_STORED).read_bytes(),
                "tgz": write_tar(Path(scratch, "a.tar.gz"), entries).read_bytes(),
                "tar": write_tar(Path(scratch, "a.tar"), entries, "w").read_bytes()}


SEEDS = _seed_archives()


@settings(derandomize=True, database=None, deadline=None, max_examples=600,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(SEEDS)), st.integers(0, 4000),
       st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6))
def test_archive_readers_raise_only_archiver_errors(tmp_path_factory, kind: str, cut: int,
                                                   flips: list[tuple[int, int]]) -> None:
    seed = SEEDS[kind]
    data = _mutate(seed, cut % (len(seed) + 1), [(i % len(seed), v) for i, v in flips])
    path = tmp_path_factory.mktemp("fuzz") / f"x.{kind}"
    path.write_bytes(data)
    try:
        with open_archive(path) as reader:
            reader.violations
            for name in reader.names():
                with reader.open(name) as handle:
                    while handle.read(1 << 16):
                        pass
            reader.manifest
            reader.record
    except ArchiverError:
        pass
    try:
        verify_archive(path)
    except ArchiverError:
        pass
