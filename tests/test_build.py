"""The archive builder's rules, on real files: content, exclusions, symlinks,
reproducibility, atomicity, formats and compression."""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from model_archiver import build_archive, open_archive, verify_archive
from model_archiver.errors import OutputExistsError, UsageError
from tests.support.java_zip import java_available, list_with_zip_input_stream

HANDLER = "def handle(data, context):\n    return [b'ok'] * len(data or [])\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A generic (non-MXNet) model dir: MMS serves arbitrary files plus a handler."""
    root = tmp_path / "model"
    (root / "config").mkdir(parents=True)
    (root / "service.py").write_text(HANDLER)
    (root / "labels.txt").write_text("".join(f"label {i}\n" for i in range(500)))
    (root / "weights.bin").write_bytes(os.urandom(300_000))
    (root / "config" / "settings.json").write_text(json.dumps({"threshold": 0.5}))
    return root


def build(model_dir: Path, out: Path, **kwargs):
    kwargs.setdefault("model_name", "m")
    kwargs.setdefault("handler", "service:handle")
    return build_archive(model_dir, export_path=out, **kwargs)


def archived_names(path: Path) -> set[str]:
    with open_archive(path) as reader:
        return set(reader.names())


def test_mar_holds_every_file_and_the_manifest(model_dir, tmp_path):
    result = build(model_dir, tmp_path / "out", model_version="2.1", description="demo", author="me",
                   email="me@example.com", license="MIT")
    assert result.path == (tmp_path / "out" / "m.mar").absolute()
    assert archived_names(result.path) == {
        "service.py", "labels.txt", "weights.bin", "config/settings.json",
        "MAR-INF/MANIFEST.json", "MAR-INF/RECORD.json",
    }
    with zipfile.ZipFile(result.path) as zf:
        manifest = json.loads(zf.read("MAR-INF/MANIFEST.json"))
        assert zf.read("config/settings.json") == (model_dir / "config" / "settings.json").read_bytes()
    assert manifest["runtime"] == "python"
    assert manifest["model"] == {"modelName": "m", "handler": "service:handle", "modelVersion": "2.1",
                                 "description": "demo", "extensions": {}}
    assert manifest["publisher"] == {"author": "me", "email": "me@example.com"}
    assert manifest["license"] == "MIT"
    assert "engine" not in manifest  # no MXNet checkpoint, no engine named
    from model_archiver.schema import schema_errors
    assert schema_errors(manifest, "manifest") == []
    recorded = {f.path: f.sha256 for f in result.files}
    assert recorded["weights.bin"] == sha256(model_dir / "weights.bin")


def test_optional_manifest_keys_are_left_out(model_dir, tmp_path):
    manifest = build(model_dir, tmp_path).manifest
    assert set(manifest) == {"runtime", "model", "modelServerVersion", "implementationVersion",
                             "specificationVersion"}
    assert set(manifest["model"]) == {"modelName", "handler", "extensions"}


def test_same_inputs_give_byte_identical_archives(model_dir, tmp_path):
    first = build(model_dir, tmp_path / "a").path
    for path in model_dir.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))  # mtimes must not leak in
    (model_dir / "service.py").chmod(0o600)  # nor the owner-only permission bits
    second = build(model_dir, tmp_path / "b").path
    assert sha256(first) == sha256(second)
    for fmt in ("tgz",):
        one = build(model_dir, tmp_path / "c", archive_format=fmt).path
        two = build(model_dir, tmp_path / "d", archive_format=fmt).path
        assert sha256(one) == sha256(two)


def test_source_date_epoch_sets_every_timestamp(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z
    path = build(model_dir, tmp_path).path
    with zipfile.ZipFile(path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_bad_source_date_epoch_is_a_usage_error(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        build(model_dir, tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def test_builtin_exclusions(model_dir, tmp_path):
    (model_dir / ".git").mkdir()
    (model_dir / ".git" / "HEAD").write_text("ref")
    (model_dir / ".hidden.txt").write_text("x")
    (model_dir / "__MACOSX").mkdir()
    (model_dir / "__MACOSX" / "._service.py").write_text("x")
    (model_dir / ".DS_Store").write_bytes(b"x")
    (model_dir / "config" / ".DS_Store").write_bytes(b"x")
    (model_dir / "__pycache__").mkdir()
    (model_dir / "__pycache__" / "service.cpython-311.pyc").write_bytes(b"x")
    (model_dir / "old.pyc").write_bytes(b"x")
    (model_dir / "MANIFEST.json").write_text("{}")  # a stray legacy manifest at the root
    (model_dir / "config" / "MANIFEST.json").write_text("{}")  # data deeper down is kept
    names = archived_names(build(model_dir, tmp_path / "out").path)
    assert names == {
        "service.py", "labels.txt", "weights.bin", "config/settings.json", "config/MANIFEST.json",
        "MAR-INF/MANIFEST.json", "MAR-INF/RECORD.json",
    }


def test_exclude_globs_match_paths_and_names(model_dir, tmp_path):
    (model_dir / "notes.md").write_text("x")
    names = archived_names(build(model_dir, tmp_path, excludes=["*.md", "config/*"]).path)
    assert "notes.md" not in names and "config/settings.json" not in names
    assert "labels.txt" in names


def test_user_mar_inf_is_reserved(model_dir, tmp_path):
    (model_dir / "MAR-INF").mkdir()
    (model_dir / "MAR-INF" / "MANIFEST.json").write_text("{}")
    with pytest.raises(UsageError, match="MAR-INF/ in the model path is reserved"):
        build(model_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "m.mar").exists()


def test_symlink_inside_model_dir_is_archived_as_the_file(model_dir, tmp_path):
    (model_dir / "alias.txt").symlink_to("labels.txt")
    (model_dir / "cfg").symlink_to("config", target_is_directory=True)
    path = build(model_dir, tmp_path).path
    with zipfile.ZipFile(path) as zf:
        assert zf.read("alias.txt") == (model_dir / "labels.txt").read_bytes()
        assert zf.read("cfg/settings.json") == (model_dir / "config" / "settings.json").read_bytes()


def test_symlink_escaping_model_dir_is_an_error(model_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    (model_dir / "leak.txt").symlink_to(secret)
    with pytest.raises(UsageError, match=r"leak\.txt: symlink points outside the model path"):
        build(model_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "m.mar").exists()


def test_broken_and_looping_symlinks_are_errors(model_dir, tmp_path):
    (model_dir / "gone").symlink_to(model_dir / "missing.txt")
    with pytest.raises(UsageError, match="gone: broken or looping symlink"):
        build(model_dir, tmp_path / "out")
    (model_dir / "gone").unlink()
    (model_dir / "config" / "up").symlink_to(model_dir, target_is_directory=True)
    with pytest.raises(UsageError, match="symlink loop"):
        build(model_dir, tmp_path / "out")


@pytest.mark.parametrize("archive_format", ["default", "tgz", "no-archive"])
def test_export_path_inside_model_path_never_archives_the_output(model_dir, archive_format):
    out = model_dir / "out"
    first = build(model_dir, out, archive_format=archive_format)
    second = build(model_dir, out, archive_format=archive_format, force=True)
    names = archived_names(second.path)
    assert not any(n.startswith("out/m") for n in names)
    assert {f.path for f in first.files} == {f.path for f in second.files}
    assert verify_archive(second.path).ok


def test_output_replacing_the_model_path_is_refused(model_dir):
    with pytest.raises(UsageError, match="would replace the model path"):
        build_archive(model_dir, model_name="model", handler="service:handle", export_path=model_dir.parent,
                      archive_format="no-archive")


def test_existing_archive_is_never_overwritten_without_force(model_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "m.mar"
    existing.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        build(model_dir, out)
    assert existing.read_bytes() == b"precious"
    assert sorted(p.name for p in out.iterdir()) == ["m.mar"]
    build(model_dir, out, force=True)
    assert verify_archive(existing).ok


@pytest.mark.parametrize("archive_format", ["default", "tgz", "no-archive"])
def test_interrupted_build_leaves_nothing_and_keeps_the_old_output(model_dir, tmp_path, archive_format):
    """Ctrl-C (KeyboardInterrupt) raised from inside the write, via the progress hook."""
    out = tmp_path / "out"
    old = build(model_dir, out, archive_format=archive_format)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    old_digests = {f.path: f.sha256 for f in old.files}
    (model_dir / "labels.txt").write_text("changed\n")

    def interrupt(done: int, total: int) -> None:
        if done > 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(model_dir, out, archive_format=archive_format, force=True, on_progress=interrupt)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before  # no temp files left
    with open_archive(old.path) as reader:
        assert reader.record is not None
        assert {k: v.sha256 for k, v in reader.record.items()} == old_digests
    assert verify_archive(old.path).ok


def test_failed_build_into_new_folder_leaves_no_archive(model_dir, tmp_path):
    (model_dir / "leak").symlink_to("/etc/hostname")
    with pytest.raises(UsageError):
        build(model_dir, tmp_path / "new")
    assert not (tmp_path / "new").exists()  # the export folder is made only when writing starts


def test_tgz_layouts(model_dir, tmp_path):
    root = build(model_dir, tmp_path / "root", archive_format="tgz").path
    folder = build(model_dir, tmp_path / "folder", archive_format="tgz", tgz_layout="folder").path
    assert root.name == folder.name == "m.tar.gz"
    with tarfile.open(root) as tf:
        assert "MAR-INF/MANIFEST.json" in tf.getnames()
    with tarfile.open(folder) as tf:
        assert "m/MAR-INF/MANIFEST.json" in tf.getnames()
        assert all(n.startswith("m/") for n in tf.getnames())
    assert archived_names(root) == archived_names(folder)  # the reader strips MMS's folder
    assert verify_archive(folder).ok


def test_no_archive_layout_is_a_servable_folder(model_dir, tmp_path):
    result = build(model_dir, tmp_path, archive_format="no-archive")
    assert result.path.is_dir() and result.sha256 is None
    assert (result.path / "MAR-INF" / "MANIFEST.json").is_file()
    assert (result.path / "config" / "settings.json").read_bytes() == (model_dir / "config" / "settings.json").read_bytes()
    with pytest.raises(OutputExistsError):
        build(model_dir, tmp_path, archive_format="no-archive")
    (model_dir / "labels.txt").write_text("new\n")
    build(model_dir, tmp_path, archive_format="no-archive", force=True)
    assert (result.path / "labels.txt").read_text() == "new\n"


def test_auto_compression_stores_dense_and_deflates_text(model_dir, tmp_path):
    (model_dir / "net-0000.params.bak").write_bytes(os.urandom(50_000))  # unknown suffix, incompressible
    (model_dir / "table.dat").write_bytes(b"0123456789" * 10_000)  # unknown suffix, compressible
    result = build(model_dir, tmp_path)
    methods = {f.path: f.compression for f in result.files}
    assert methods["weights.bin"] == "store"
    assert methods["net-0000.params.bak"] == "store"
    assert methods["labels.txt"] == "deflate"
    assert methods["table.dat"] == "deflate"
    with zipfile.ZipFile(result.path) as zf:
        assert zf.getinfo("weights.bin").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("table.dat").compress_type == zipfile.ZIP_DEFLATED
    stored = build(model_dir, tmp_path / "s", compression_policy="store")
    assert {f.compression for f in stored.files} == {"store"}


def test_mxnet_checkpoint_names_the_engine(digits_dir, tmp_path):
    (digits_dir / "service.py").write_text(HANDLER)
    manifest = build_archive(digits_dir, model_name="digits", handler="service:handle", export_path=tmp_path,
                             engine_version="1.9.1").manifest
    assert manifest["engine"] == {"engineName": "MXNet", "engineVersion": "1.9.1"}


@pytest.mark.skipif(not java_available(), reason="needs a Java runtime (CI machines have Java 17)")
def test_java_zip_input_stream_reads_stored_and_deflated_entries(model_dir, tmp_path):
    result = build(model_dir, tmp_path)
    seen = list_with_zip_input_stream(result.path)
    expected = {f.path: f.size for f in result.files}
    assert {k: v for k, v in seen.items() if k != "MAR-INF/RECORD.json"} == expected
    assert "store" in {f.compression for f in result.files}


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="needs a Java runtime (CI machines have Java 17)")
def test_zip64_for_a_file_of_4_gib_and_more(tmp_path):
    """A sparse 4 GiB + 3 byte file: Zip64 headers, verified by us and by Java's ZipInputStream."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "service.py").write_text(HANDLER)
    big = model / "huge.bin"
    with big.open("wb") as handle:
        handle.truncate((4 << 30) + 3)
    result = build_archive(model, model_name="huge", handler="service:handle", export_path=tmp_path / "out")
    with zipfile.ZipFile(result.path) as zf:
        assert zf.getinfo("huge.bin").file_size == (4 << 30) + 3
    assert verify_archive(result.path).ok
    assert list_with_zip_input_stream(result.path)["huge.bin"] == (4 << 30) + 3
