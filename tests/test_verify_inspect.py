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
    with open_archive(archive) as reader, pytest.raises(IntegrityError, match="unsafe entry"):
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


# -- hostile archives (issue 9); the CLI-level corpus is in tests/adversarial/ ----------------
def _hostile_zip(path, extra):
    from tests.adversarial.archives import base_entries, write_zip

    return write_zip(path, base_entries(extra))


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_inspect_lists_every_unsafe_entry_as_an_error(tmp_path):
    from tests.adversarial.archives import Entry

    archive = _hostile_zip(tmp_path / "evil.mar", [Entry("../up.txt", b"x"), Entry("C:/win.txt", b"x"),
                                                    Entry("dup.txt", b"1", in_record=False), Entry("dup.txt", b"2")])
    report = inspect_archive(archive)
    unsafe = sorted(p.file for p in report.problems if p.code == "archive.unsafe-entry")
    assert unsafe == ["../up.txt", "C:/win.txt", "dup.txt"]
    assert all(p.is_error for p in report.problems if p.code == "archive.unsafe-entry")


def test_verify_fails_an_unsafe_archive_even_when_record_lists_it(tmp_path):
    from tests.adversarial.archives import Entry

    archive = _hostile_zip(tmp_path / "evil.mar", [Entry("a\\b.txt", b"x")])
    report = verify_archive(archive)
    assert not report.ok
    assert [(f.kind, f.path) for f in report.findings] == [("unsafe", "a\\b.txt"), ("missing", "a\\b.txt")]


def test_tgz_listing_and_verify_in_one_streaming_pass(model_dir, tmp_path):
    """verify of a .tar.gz inflates the stream once: listing and hashing share the pass."""
    from model_archiver.reading.reader import TarReader

    archive = build_archive(model_dir, model_name="m", handler="service:handle", export_path=tmp_path,
                            archive_format="tgz", tgz_layout="folder").path
    with open_archive(archive) as reader:
        assert isinstance(reader, TarReader)
        scanned = [name for name, _ in reader.scan_files()]
        names = [reader.short_name(name) for name in scanned]  # the layout prefix is known once the pass ends
        assert reader._stream.tell() <= sum(m.size + 1536 for m in reader.members().values()) + 10240
        assert sorted(names) == reader.names()
    assert verify_archive(archive).ok


def test_extraction_refuses_when_the_target_lacks_the_space(tmp_path):
    import shutil

    from model_archiver.errors import ArchiverError
    from model_archiver.reading.reader import _check_free_space

    free = shutil.disk_usage(tmp_path).free
    _check_free_space(tmp_path / "new" / "dir", free // 2, tmp_path / "a.mar")
    with pytest.raises(ArchiverError, match="free"):
        _check_free_space(tmp_path / "new" / "dir", free + (1 << 30), tmp_path / "a.mar")


def test_a_100_gb_params_entry_is_within_the_default_limits(tmp_path):
    """The defaults are for real models: a (declared) 100 GB stored entry lists without a violation."""
    import zipfile

    from model_archiver.reading.reader import _zip_special

    info = zipfile.ZipInfo("m-0000.params")
    info.file_size = info.compress_size = 100 * 10 ** 9
    assert _zip_special(info) is None


def test_check_import_timeout_kills_what_the_handler_started(tmp_path):
    """A handler that starts a background process and then hangs: the whole process group dies."""
    import os
    import time

    from model_archiver.safety import limits
    from model_archiver.validation import validate_directory

    model = tmp_path / "model"
    model.mkdir()
    pid_file = tmp_path / "child.pid"
    (model / "service.py").write_text(
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
        "def handle(data, context):\n    return data\n")
    started = time.monotonic()
    with limits.using(import_timeout=3):
        problems = validate_directory(model, model_name="m", handler="service:handle", check_import=True)
    assert time.monotonic() - started < 60
    assert [p.code for p in problems] == ["handler.import-timeout"]
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"background process {child} survived the import timeout")
