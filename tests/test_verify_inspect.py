"""`verify` catches every kind of tampering; `inspect` reports what is inside."""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from model_archiver import build_archive, inspect_archive, open_archive, verify_archive
from model_archiver.errors import IntegrityError, UsageError

HANDLER = "def handle(data, context):\n    return data\n"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "service.py").write_text(HANDLER)
    (root / "weights.bin").write_bytes(os.urandom(200_000))
    (root / "vocab.txt").write_text("".join(f"word{i}\n" for i in range(2000)))
    return root


def built(model_dir: Path, out: Path, fmt: str = "default") -> Path:
    return build_archive(model_dir, model_name="m", handler="service:handle", export_path=out,
                         archive_format=fmt).path


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def stored_data_offset(archive: Path, name: str) -> int:
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(name)
    raw = archive.read_bytes()
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    return info.header_offset + 30 + name_len + extra_len


@pytest.mark.parametrize("fmt", ["default", "tgz", "no-archive"])
def test_fresh_archive_verifies(model_dir, tmp_path, fmt):
    report = verify_archive(built(model_dir, tmp_path, fmt))
    assert report.ok and report.checked == 4  # 3 files + manifest


def test_flipped_byte_in_stored_entry_is_caught(model_dir, tmp_path):
    archive = built(model_dir, tmp_path)
    flip_byte(archive, stored_data_offset(archive, "weights.bin") + 12345)
    report = verify_archive(archive)
    assert not report.ok
    assert [(f.kind, f.path) for f in report.findings] in ([("corrupt", "weights.bin")], [("digest", "weights.bin")])


def test_changed_file_in_directory_archive_is_caught(model_dir, tmp_path):
    folder = built(model_dir, tmp_path, "no-archive")
    flip_byte(folder / "weights.bin", 100)
    (folder / "vocab.txt").unlink()
    (folder / "extra.py").write_text("x = 1\n")
    findings = {(f.kind, f.path) for f in verify_archive(folder).findings}
    assert findings == {("digest", "weights.bin"), ("missing", "vocab.txt"), ("extra", "extra.py")}


def test_changed_member_in_tgz_is_caught(model_dir, tmp_path):
    archive = built(model_dir, tmp_path, "tgz")
    with tarfile.open(archive) as tf:
        members = [(m, tf.extractfile(m).read()) for m in tf.getmembers()]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for member, data in members:
            if member.name == "vocab.txt":
                data = data.replace(b"word7\n", b"word8\n")
            tf.addfile(member, io.BytesIO(data))
    archive.write_bytes(gzip.compress(buffer.getvalue()))
    assert [(f.kind, f.path) for f in verify_archive(archive).findings] == [("digest", "vocab.txt")]


def test_archive_from_another_tool_has_nothing_to_verify(tmp_path):
    archive = tmp_path / "legacy.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("MAR-INF/MANIFEST.json", json.dumps({"runtime": "python",
                                                          "model": {"modelName": "x", "handler": "h"}}))
        zf.writestr("h.py", HANDLER)
    assert [f.kind for f in verify_archive(archive).findings] == ["no-record"]


def test_malformed_record_is_an_integrity_error(model_dir, tmp_path):
    archive = tmp_path / "bad.mar"
    with zipfile.ZipFile(built(model_dir, tmp_path / "ok")) as src, zipfile.ZipFile(archive, "w") as dst:
        for info in src.infolist():
            data = b"not json" if info.filename == "MAR-INF/RECORD.json" else src.read(info)
            dst.writestr(info, data)
    with pytest.raises(IntegrityError, match="RECORD.json is malformed"):
        verify_archive(archive)


def test_not_an_archive_is_a_usage_error(tmp_path):
    junk = tmp_path / "junk.mar"
    junk.write_bytes(b"hello")
    with pytest.raises(UsageError, match="not a readable"):
        verify_archive(junk)


def test_extract_refuses_paths_outside_the_destination(tmp_path):
    archive = tmp_path / "evil.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with open_archive(archive) as reader, pytest.raises(IntegrityError, match="unsafe path"):
        reader.extract_all(tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_inspect_reports_files_compression_and_digests(model_dir, tmp_path):
    archive = built(model_dir, tmp_path)
    report = inspect_archive(archive)
    files = {f.path: f for f in report.files}
    assert files["weights.bin"].compression == "store"
    assert files["weights.bin"].compressed_size == 200_000
    assert files["vocab.txt"].compression == "deflate"
    assert files["vocab.txt"].compressed_size < files["vocab.txt"].size
    with open_archive(archive) as reader:
        assert files["vocab.txt"].sha256 == reader.record["vocab.txt"].sha256
    assert report.manifest["model"]["modelName"] == "m"
    assert report.problems == []
    assert json.loads(json.dumps(report.to_dict()))["files"]


def test_inspect_reports_validation_problems_of_the_files_inside(digits_dir, tmp_path):
    """An archive built without checks (or by another tool) is checked when inspected."""
    import subprocess
    import sys

    (digits_dir / "service.py").write_text(HANDLER)
    (digits_dir / "synset.txt").write_text("".join(f"{i}\n" for i in range(9)))  # one label short
    archive = build_archive(digits_dir, model_name="digits", handler="service:handle", export_path=tmp_path,
                            validate=False).path
    codes = {p.code for p in inspect_archive(archive).problems}
    assert any(code.startswith("synset.") for code in codes)

    shown = subprocess.run([sys.executable, "-m", "model_archiver", "inspect", str(archive)],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 3
    assert "synset.txt:" in shown.stdout
    assert shown.stderr.strip().splitlines()[-1].startswith("model-archiver: error:")
    as_json = subprocess.run([sys.executable, "-m", "model_archiver", "inspect", str(archive), "--json"],
                             capture_output=True, text=True, timeout=120)
    assert as_json.returncode == 3
    assert any(p["file"] == "synset.txt" for p in json.loads(as_json.stdout)["problems"])
