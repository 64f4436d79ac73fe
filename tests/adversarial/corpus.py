"""The hostile-input corpus: every case is generated here, at test time, from code.

Each :class:`Case` builds its inputs inside a fresh case folder and returns
the CLI arguments; the test runs the real CLI in a subprocess and checks the
exit code, the one-line message, and that nothing was written or left behind.
Classes: unsafe entry names (zip, tar, folder), special entries, corrupt
archives, JSON members (manifest, RECORD, signature, symbol), params headers,
handler sources, decompression bombs and limits, model folders given to
build/validate, output safety, run inputs, import checks.
"""
from __future__ import annotations

import json
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.adversarial.archives import (
    HANDLER, Entry, base_entries, manifest, patch_zip_flag, patch_zip_name, record, write_folder, write_tar,
    write_zip, zero_tgz, zero_zip,
)

Maker = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    make: Maker
    codes: tuple[int, ...]
    message: str = ""  # a regular expression the stderr must contain
    seconds: float = 90.0  # safety net only: generous for a loaded 2-core machine
    keep: tuple[str, ...] = field(default=())  # paths (relative to the case dir) the command may create


CASES: list[Case] = []


def add(id: str, cls: str, make: Maker, codes: tuple[int, ...], message: str = "", **kw: object) -> None:
    CASES.append(Case(id, cls, make, codes, message, **kw))  # type: ignore[arg-type]


def _input(case_dir: Path) -> str:
    path = case_dir / "in.json"
    path.write_text("{}")
    return str(path)


def archive_cases(id: str, cls: str, write: Callable[[Path], Path], inspect: int, verify: int, run: int,
                  message: str = "", flags: tuple[str, ...] = ()) -> None:
    """The same hostile archive given to inspect, verify and run."""
    def cmd(command: str) -> Maker:
        def make(case_dir: Path) -> list[str]:
            archive = str(write(case_dir))
            extra = ["-i", _input(case_dir)] if command == "run" else []
            return [command, archive, *extra, *flags]
        return make

    add(f"{id}-inspect", cls, cmd("inspect"), (inspect,), message)
    add(f"{id}-verify", cls, cmd("verify"), (verify,), message)
    add(f"{id}-run", cls, cmd("run"), (run,), message)


# -- unsafe entry names ------------------------------------------------------
UNSAFE_NAMES = {
    "dotdot": "../x.txt", "dotdot-deep": "../../etc/x.txt", "absolute": "/abs/x.txt", "backslash-dotdot": "..\\x.txt",
    "backslash": "a\\b.txt", "drive": "C:/x.txt", "drive-relative": "c:x.txt", "inner-dotdot": "a/../../x.txt",
    "dot": "./x.txt", "empty-part": "a//b.txt", "dot-part": "a/./b.txt", "newline": "x\ny.txt",
    "escape": "x\x1by.txt", "delete": "x\x7f.txt", "long-part": "a" * 300, "long-nested": "d/" + "y" * 256,
}
for key, bad in UNSAFE_NAMES.items():
    entry = [Entry(bad, b"payload")]
    archive_cases(f"zip-name-{key}", "name", lambda d, e=entry: write_zip(d / "evil.mar", base_entries(e)),
                  3, 4, 4, "unsafe")
    archive_cases(f"tar-name-{key}", "name", lambda d, e=entry: write_tar(d / "evil.tar.gz", base_entries(e)),
                  3, 4, 4, "unsafe")

# -- special entries, duplicates, clashes -------------------------------------
TAR_SPECIAL = {
    "symlink-out": [Entry("link", kind="symlink", target="/etc/passwd")],
    "symlink-up": [Entry("link", kind="symlink", target="../../x")],
    "hardlink": [Entry("hl", kind="hardlink", target="service.py")],
    "chr-device": [Entry("dev", kind="chr")],
    "blk-device": [Entry("dev", kind="blk")],
    "fifo": [Entry("pipe", kind="fifo")],
    "duplicate": [Entry("data.txt", b"first", in_record=False), Entry("data.txt", b"second")],
    "file-folder": [Entry("a", b"file"), Entry("a/b", b"inside")],
    "folder-file": [Entry("a", kind="dir"), Entry("a", b"file")],
}
for key, extra in TAR_SPECIAL.items():
    archive_cases(f"tar-{key}", "special", lambda d, e=extra: write_tar(d / "evil.tar.gz", base_entries(e)),
                  3, 4, 4, "unsafe")
ZIP_SPECIAL = {
    "symlink": [Entry("link", kind="symlink", target="/etc/passwd")],
    "duplicate": [Entry("data.txt", b"first", in_record=False), Entry("data.txt", b"second")],
    "file-folder": [Entry("a", b"file"), Entry("a/b", b"inside")],
    "dir-dotdot": [Entry("../d/", kind="dir")],
}
for key, extra in ZIP_SPECIAL.items():
    archive_cases(f"zip-{key}", "special", lambda d, e=extra: write_zip(d / "evil.mar", base_entries(e)),
                  3, 4, 4, "unsafe")
FOLDER_SPECIAL = {
    "symlink-out": [Entry("link", kind="symlink", target="/etc/passwd")],
    "symlink-loop": [Entry("a", kind="symlink", target="b"), Entry("b", kind="symlink", target="a")],
    "symlink-dir": [Entry("up", kind="symlink", target="..")],
    "fifo": [Entry("pipe", kind="fifo")],
}
for key, extra in FOLDER_SPECIAL.items():
    archive_cases(f"dir-{key}", "special", lambda d, e=extra: write_folder(d / "unpacked", base_entries(e)),
                  3, 4, 4, "unsafe")
archive_cases("zip-encrypted", "special", lambda d: patch_zip_flag(
    write_zip(d / "evil.mar", base_entries([Entry("x.bin", b"data")])), "x.bin", flag_or=1), 3, 4, 4, "encrypted")
archive_cases("zip-method-99", "special", lambda d: patch_zip_flag(
    write_zip(d / "evil.mar", base_entries([Entry("x.bin", b"data")]), zipfile.ZIP_STORED), "x.bin", method=99),
    3, 4, 4, "compression method")
archive_cases("zip-non-utf8-flagged", "name", lambda d: patch_zip_flag(patch_zip_name(
    write_zip(d / "evil.mar", base_entries([Entry("xy.bin", b"data")])), b"xy.bin", b"\xff\xfe.bin"),
    b"\xff\xfe.bin", flag_or=0x800), 4, 4, 4, "not UTF-8")
archive_cases("zip-non-ascii-unflagged", "name", lambda d: patch_zip_name(
    write_zip(d / "evil.mar", base_entries([Entry("xy.bin", b"data")])), b"xy.bin", b"\xff\xfe.bin"), 3, 4, 4,
    "UTF-8")
archive_cases("tar-non-utf8", "name", lambda d: _tar_raw_name(d / "evil.tar", b"\xff\xfe.bin"), 3, 4, 4, "UTF-8")


def _tar_raw_name(path: Path, name: bytes) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
        for entry in [*base_entries(), Entry(name.decode("utf-8", "surrogateescape"), b"x")]:
            info = tarfile.TarInfo(entry.name)
            info.size = len(entry.data)
            tf.addfile(info, io.BytesIO(entry.data))
    return path


# -- corrupt archives --------------------------------------------------------
def _bad_crc(d: Path) -> Path:
    entries = [Entry("MAR-INF/MANIFEST.json", manifest()), Entry("service.py", HANDLER + b"#" + b"A" * 4000)]
    path = write_zip(d / "bad.mar", entries + [Entry("MAR-INF/RECORD.json", record(entries))], zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    raw[raw.find(b"A" * 100) + 50] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def _bad_deflate(d: Path) -> Path:
    entries = [Entry("MAR-INF/MANIFEST.json", manifest()), Entry("service.py", HANDLER + b"#" * 2000)]
    path = write_zip(d / "bad.mar", entries + [Entry("MAR-INF/RECORD.json", record(entries))])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("service.py")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start, start + min(info.compress_size, 64)):
        raw[i] = 0xFF
    path.write_bytes(bytes(raw))
    return path


def _truncated(d: Path) -> Path:
    path = write_zip(d / "cut.mar", base_entries([Entry("data.bin", os.urandom(5000))]))
    path.write_bytes(path.read_bytes()[:3000])
    return path


def _truncated_tgz(d: Path) -> Path:
    path = write_tar(d / "cut.tar.gz", base_entries([Entry("data.bin", os.urandom(50000))]))
    path.write_bytes(path.read_bytes()[:20000])
    return path


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name
    return write


archive_cases("zip-bad-crc", "corrupt", _bad_crc, 4, 4, 4, "CRC|cannot be read")
archive_cases("zip-bad-deflate", "corrupt", _bad_deflate, 4, 4, 4, "cannot be read|corrupt")
archive_cases("zip-truncated", "corrupt", _truncated, 2, 2, 2, "not a readable")
archive_cases("tgz-truncated", "corrupt", _truncated_tgz, 4, 4, 4, "corrupt|cannot be read")
archive_cases("garbage", "corrupt", _bytes("x.mar", os.urandom(3000)), 2, 2, 2, "not a readable")
archive_cases("empty-file", "corrupt", _bytes("x.mar", b""), 2, 2, 2, "not a readable")
archive_cases("gzip-garbage", "corrupt", _bytes("x.tar.gz", b"\x1f\x8b" + os.urandom(500)), 2, 2, 2,
              "not a readable")
archive_cases("no-manifest", "corrupt", lambda d: write_zip(d / "x.mar", [Entry("service.py", HANDLER)]), 2, 4, 2,
              "no MAR-INF/MANIFEST.json|RECORD")

# -- JSON members: manifest ----------------------------------------------------
MANIFESTS = {
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "list": b"[]", "null": b"null", "number": b"42", "string": b'"m"',
    "huge-int": manifest(extensions={"n": 0}).replace(b'"n": 0', b'"n": ' + b"9" * 5000),
    "not-utf8": b'{"runtime": "\xff"}', "not-json": b"{runtime: python}",
    "dotdot-name": manifest(name="../../etc/passwd"), "slash-handler": manifest(handler="/etc/passwd:x"),
    "model-list": json.dumps({"runtime": "python", "model": []}).encode(),
}
for key, raw in MANIFESTS.items():
    def write(d: Path, raw: bytes = raw) -> Path:
        return write_zip(d / "m.mar", base_entries(manifest_bytes=raw))
    add(f"manifest-{key}-inspect", "json", lambda d, w=write: ["inspect", str(w(d))], (2,), "MANIFEST")
    add(f"manifest-{key}-run", "json", lambda d, w=write: ["run", str(w(d)), "-i", _input(d)], (2,), "MANIFEST")

# -- JSON members: RECORD -------------------------------------------------------
def _record_doc(files: object) -> bytes:
    return json.dumps({"version": 1, "algorithm": "sha256", "files": files}).encode()


_SHA = "0" * 64
RECORDS = {
    "size-1e400": _record_doc([{"path": "service.py", "sha256": _SHA, "size": 1}]).replace(b'"size": 1', b'"size": 1e400'),
    "size-negative": _record_doc([{"path": "service.py", "sha256": _SHA, "size": -1}]),
    "size-string": _record_doc([{"path": "service.py", "sha256": _SHA, "size": "12"}]),
    "size-bool": _record_doc([{"path": "service.py", "sha256": _SHA, "size": True}]),
    "sha-not-hex": _record_doc([{"path": "service.py", "sha256": "z" * 64, "size": 1}]),
    "path-number": _record_doc([{"path": 7, "sha256": _SHA, "size": 1}]),
    "duplicate-path": _record_doc([{"path": "service.py", "sha256": _SHA, "size": 1}] * 2),
    "files-object": _record_doc({"service.py": 1}),
    "top-list": b"[1, 2]",
    "deep": b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "huge-int": _record_doc([{"path": "service.py", "sha256": _SHA, "size": 1}]).replace(b'"size": 1', b'"size": ' + b"1" * 5000),
    "not-utf8": b'{"algorithm": "\xff"}',
}
for key, raw in RECORDS.items():
    def write_record(d: Path, raw: bytes = raw) -> Path:
        entries = [Entry("MAR-INF/MANIFEST.json", manifest()), Entry("service.py", HANDLER),
                   Entry("MAR-INF/RECORD.json", raw)]
        return write_zip(d / "m.mar", entries)
    add(f"record-{key}-verify", "json", lambda d, w=write_record: ["verify", str(w(d))], (4,), "RECORD")

# -- model files inside an archive: symbol, signature, params, handler --------------
EMPTY_PARAMS = struct.pack("<QQQQ", 0x112, 0, 0, 0)
GOOD_SYMBOL = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                         {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "2"}, "inputs": [[0, 0, 0]]}],
               "arg_nodes": [0], "heads": [[1, 0, 0]]}


def _symbol_with(**node: object) -> bytes:
    doc = json.loads(json.dumps(GOOD_SYMBOL))
    doc["nodes"][1].update(node)
    return json.dumps(doc).encode()


SYMBOLS = {
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "attrs-list": _symbol_with(attrs=["num_hidden", "2"]),
    "attr-value-list": _symbol_with(attrs={"num_hidden": ["2"]}),
    "attr-superscript-digit": _symbol_with(attrs={"num_hidden": "\u00b2"}),
    "attr-arabic-digits": _symbol_with(attrs={"num_hidden": "\u0661\u0662"}),
    "attr-huge-int": _symbol_with(attrs={"num_hidden": "9" * 5000}),
    "kernel-huge": _symbol_with(op="Convolution", attrs={"num_filter": "2", "kernel": "(" + "9" * 900 + ",)"}),
    "inputs-forward": _symbol_with(inputs=[[5, 0, 0]]),
    "nodes-object": json.dumps({"nodes": {}, "arg_nodes": [], "heads": []}).encode(),
    "heads-empty": json.dumps({**GOOD_SYMBOL, "heads": []}).encode(),
    "not-utf8": b'{"nodes": "\xff"}',
    "top-null": b"null",
}
SIGNATURES = {
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "list": b"[]",
    "huge-shape": json.dumps({"inputs": [{"data_name": "data", "data_shape": [0, 10 ** 30]}]}).encode(),
    "shape-strings": json.dumps({"inputs": [{"data_name": "data", "data_shape": ["a"]}]}).encode(),
    "huge-int": b'{"inputs": [{"data_name": "data", "data_shape": [' + b"7" * 5000 + b"]}]}",
}
PARAMS = {
    "truncated": EMPTY_PARAMS[:12],
    "huge-count": struct.pack("<QQQ", 0x112, 0, 2 ** 60),
    "bad-magic": b"\x00" * 64,
    "ndim-1000": struct.pack("<QQQIiI", 0x112, 0, 1, 0xF993FACA, 0, 1000) + b"\x00" * 64,
    "huge-shape": struct.pack("<QQQIii", 0x112, 0, 1, 0xF993FACA, 0, 3) + struct.pack("<qqq", 2 ** 40, 2 ** 40, 2 ** 40)
    + b"\x00" * 32,
    "names-mismatch": struct.pack("<QQQQ", 0x112, 0, 0, 5),
}
HANDLERS = {
    "deep-parens": b"x = " + b"(" * 200_000 + b")" * 200_000 + b"\n",
    "deep-lists": b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "null-bytes": b"def handle(d, c):\x00\n",
    "not-utf8": b"# \xff\xfe\ndef handle(d, c): return d\n",
    "deep-if": b"".join(b" " * i + b"if x:\n" for i in range(200)) + b" " * 200 + b"pass\n",
}


def _model_archive(symbol: bytes = json.dumps(GOOD_SYMBOL).encode(), params: bytes = EMPTY_PARAMS,
                   signature: bytes | None = None, handler: bytes = HANDLER) -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        extra = [Entry("m-symbol.json", symbol), Entry("m-0000.params", params)]
        if signature is not None:
            extra.append(Entry("signature.json", signature))
        entries = [Entry("MAR-INF/MANIFEST.json", manifest()), Entry("service.py", handler), *extra]
        return write_zip(d / "m.mar", entries + [Entry("MAR-INF/RECORD.json", record(entries))])
    return write


for key, raw in SYMBOLS.items():
    add(f"symbol-{key}-inspect", "model-file", lambda d, w=_model_archive(symbol=raw): ["inspect", str(w(d))], (0, 3),
        "m-symbol.json")
for key, raw in SIGNATURES.items():
    add(f"signature-{key}-inspect", "model-file", lambda d, w=_model_archive(signature=raw): ["inspect", str(w(d))],
        (0, 3), "signature.json")
for key, raw in PARAMS.items():
    add(f"params-{key}-inspect", "model-file", lambda d, w=_model_archive(params=raw): ["inspect", str(w(d))], (3,),
        "m-0000.params")
for key, raw in HANDLERS.items():
    add(f"handler-{key}-inspect", "model-file", lambda d, w=_model_archive(handler=raw): ["inspect", str(w(d))],
        (0, 3), "")

# -- bombs and limits ------------------------------------------------------------
MiB = 1 << 20
archive_cases("zip-bomb", "limits", lambda d: zero_zip(d / "bomb.mar", 64 * MiB), 3, 4, 4, "inflates|200:1")
archive_cases("tgz-bomb", "limits", lambda d: zero_tgz(d / "bomb.tar.gz", 64 * MiB), 4, 4, 4, "inflates")
archive_cases("manifest-bomb", "limits", lambda d: write_zip(d / "m.mar", base_entries(
    manifest_bytes=manifest()[:-1] + b" " * (70 * MiB) + b"}")), 4, 4, 4, "200:1")
archive_cases("max-json-bytes", "limits", lambda d: write_zip(d / "m.mar", base_entries(
    manifest_bytes=manifest()[:-1] + b" " * 200_000 + b"}")), 4, 0, 4, "",
    flags=("--max-json-bytes", "100000"))
archive_cases("max-entries-zip", "limits", lambda d: write_zip(d / "m.mar", base_entries(
    [Entry(f"f{i}.txt", b"x") for i in range(60)])), 4, 4, 4, "entries", flags=("--max-entries", "20"))
archive_cases("max-entries-tar", "limits", lambda d: write_tar(d / "m.tar.gz", base_entries(
    [Entry(f"f{i}.txt", b"x") for i in range(60)])), 4, 4, 4, "entries", flags=("--max-entries", "20"))
archive_cases("max-total-tar", "limits", lambda d: write_tar(d / "m.tar.gz", base_entries(
    [Entry("big.bin", b"x" * 5000)])), 4, 4, 4, "uncompressed bytes", flags=("--max-total-bytes", "3000"))
archive_cases("max-total-zip", "limits", lambda d: write_zip(d / "m.mar", base_entries(
    [Entry("big.bin", b"x" * 5000)])), 4, 4, 4, "uncompressed bytes", flags=("--max-total-bytes", "3000"))
archive_cases("max-depth", "limits", lambda d: write_zip(d / "m.mar", base_entries(
    manifest_bytes=manifest(extensions={"a": [[[[[1]]]]]}))), 2, 0, 2, "", flags=("--max-json-depth", "4"))

# -- model folders given to build and validate ------------------------------------------
def _folder(*extra: Entry) -> Callable[[Path], Path]:
    def write(d: Path) -> Path:
        return write_folder(d / "model", [Entry("service.py", HANDLER), *extra])
    return write


def build_cases(id: str, cls: str, write: Callable[[Path], Path], code: int, message: str,
                flags: tuple[str, ...] = (), validate: bool = True) -> None:
    add(f"{id}-build", cls, lambda d: ["build", "--model-name", "m", "--model-path", str(write(d)),
                                       "--handler", "service:handle", "--export-path", str(d / "out"), *flags],
        (code,), message)
    if validate:
        add(f"{id}-validate", cls, lambda d: ["validate", str(write(d)), "--model-name", "m",
                                              "--handler", "service:handle"], (code,), message)


FOLDER_NAMES = {"backslash": "a\\b.txt", "drive": "c:x.txt", "non-utf8": b"\xff.txt".decode("utf-8", "surrogateescape"),
                "newline": "x\ny.txt", "control": "x\x01.txt", "delete": "x\x7f.txt"}
for key, bad in FOLDER_NAMES.items():
    build_cases(f"folder-name-{key}", "folder", _folder(Entry(bad, b"x")), 2, "rename it")
build_cases("folder-symlink-loop", "folder", _folder(Entry("a", kind="symlink", target="b"),
                                                     Entry("b", kind="symlink", target="a")), 2, "looping symlink")
build_cases("folder-symlink-out", "folder", _folder(Entry("x", kind="symlink", target="/etc/hostname")), 2,
            "outside the model path")
build_cases("folder-fifo", "folder", _folder(Entry("pipe", kind="fifo")), 2, "not a regular file")
build_cases("folder-mar-inf", "folder", _folder(Entry("MAR-INF/x", b"x")), 2, "reserved")
for key, name in {"300-chars": "a" * 300, "dotdot": "../x", "slash": "a/b", "empty": "", "dash": "-x"}.items():
    add(f"model-name-{key}-build", "folder", lambda d, n=name: [
        "build", "--model-name", n, "--model-path", str(_folder()(d)), "--handler", "service:handle",
        "--export-path", str(d / "out")], (2,), "model name")
build_cases("handler-deep-parens", "folder", _folder(Entry("service.py", HANDLERS["deep-parens"])), 3,
            "nested too deeply|syntax|recursion")

# -- output safety --------------------------------------------------------------------------
def _parent_export(d: Path) -> list[str]:
    model = _folder(Entry("weights.bin", b"precious"))(d)
    return ["build", "--model-name", "model", "--model-path", str(model), "--handler", "service:handle",
            "--export-path", str(d), "--archive-format", "no-archive", "-f"]


def _ancestor_export(d: Path) -> list[str]:
    model = write_folder(d / "out" / "inner", [Entry("service.py", HANDLER)])
    return ["build", "--model-name", "out", "--model-path", str(model), "--handler", "service:handle",
            "--export-path", str(d), "--archive-format", "no-archive", "-f"]


def _symlink_export(d: Path) -> list[str]:
    model = _folder()(d)
    (d / "exports").mkdir()
    os.symlink(model, d / "exports" / "m")
    return ["build", "--model-name", "m", "--model-path", str(model), "--handler", "service:handle",
            "--export-path", str(d / "exports"), "--archive-format", "no-archive", "-f"]


def _inside_user_file(fmt: str, suffix: str) -> Maker:
    def make(d: Path) -> list[str]:
        model = _folder(Entry(f"m{suffix}", b"precious user data"))(d)
        return ["build", "--model-name", "m", "--model-path", str(model), "--handler", "service:handle",
                "--export-path", str(model), "--archive-format", fmt, "-f"]
    return make


add("output-is-model-no-archive", "output", _parent_export, (2,), "replace the model path")
add("output-contains-model", "output", _ancestor_export, (2,), "contains the model path")
add("output-symlink-to-model", "output", _symlink_export, (2,), "replace the model path")
for fmt, suffix in {"default": ".mar", "tgz": ".tar.gz", "no-archive": ""}.items():
    add(f"output-inside-model-user-file-{fmt}", "output", _inside_user_file(fmt, suffix), (2,), "not an archive built")

# -- run inputs --------------------------------------------------------------------------------
def _run_with(make_input: Callable[[Path], str], *flags: str) -> Maker:
    def make(d: Path) -> list[str]:
        archive = write_zip(d / "m.mar", base_entries())
        return ["run", str(archive), "-i", make_input(d), *flags]
    return make


def _fifo(d: Path) -> str:
    os.mkfifo(d / "fifo")
    return str(d / "fifo")


add("run-input-dev-zero", "run-input", _run_with(lambda d: "/dev/zero"), (2,), "not a regular file")
add("run-input-fifo", "run-input", _run_with(_fifo), (2,), "not a regular file")
add("run-input-folder", "run-input", _run_with(lambda d: str(d)), (2,), "not a regular file")
add("run-input-missing", "run-input", _run_with(lambda d: str(d / "nope.json")), (2,), "cannot read input")
add("run-input-too-big", "run-input", _run_with(_input, "--max-input-bytes", "1"), (2,), "over the 1-byte limit")
add("run-archive-fifo", "run-input", lambda d: ["run", _fifo(d), "-i", _input(d)], (2,), "not a regular file")
add("inspect-fifo", "run-input", lambda d: ["inspect", _fifo(d)], (2,), "not a regular file")

# -- import checks ------------------------------------------------------------------------------
SLOW_IMPORT = b"import time\ntime.sleep(600)\ndef handle(d, c):\n    return d\n"
BACKGROUND = (b"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
              b"def handle(d, c):\n    return d\n")
LOOP = b"while True:\n    pass\n"
for key, source, code in (("sleep", SLOW_IMPORT, 3), ("loop", LOOP, 3), ("background", BACKGROUND, 0)):
    add(f"check-import-{key}", "import", lambda d, s=source: [
        "validate", str(_folder(Entry("service.py", s))(d)), "--model-name", "m", "--handler", "service:handle",
        "--check-import", "--import-timeout", "3"], (code,), "did not finish" if code else "", seconds=60)
