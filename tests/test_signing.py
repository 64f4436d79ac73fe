"""OpenSSF model-signing signatures in MAR-INF/model.sig: build --sign-key, sign, verify, upstream interop."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_archiver import build_archive, open_archive
from model_archiver.cli import cli
from model_archiver.record import dump_record, parse_record
from model_archiver.signing import SIGNATURE_PATH, SigningIdentity, TrustAnchor, verify_signature
from tests.support.pki import certified_key, key_pair

pytest.importorskip("model_signing")
DIGITS = Path(__file__).resolve().parents[1] / "examples" / "digits" / "model"
UPSTREAM_CLI = [sys.executable, "-c", "import sys; from model_signing._cli import main; sys.exit(main())"]
BASE = ["--model-name", "digits", "--model-path", str(DIGITS), "--handler", "digits_service:handle"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return key_pair(folder, "signer"), key_pair(folder, "stranger"), certified_key(folder / "pki")


@pytest.fixture(scope="module")
def signed_mar(tmp_path_factory, keys) -> Path:
    out = tmp_path_factory.mktemp("signed")
    result = CliRunner().invoke(cli, ["build", *BASE, "--export-path", str(out), "--sign-key", str(keys[0].private)])
    assert result.exit_code == 0, result.output
    return out / "digits.mar"


def upstream_verify(model_dir: Path, *method: str) -> subprocess.CompletedProcess:
    return subprocess.run([*UPSTREAM_CLI, "verify", *method, str(model_dir),
                           "--signature", str(model_dir / SIGNATURE_PATH)], capture_output=True, text=True)


def test_signed_build_verifies_and_covers_every_other_file(signed_mar, keys):
    runner = CliRunner()
    checked = runner.invoke(cli, ["verify", str(signed_mar), "--public-key", str(keys[0].public), "--json"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.output)
    with zipfile.ZipFile(signed_mar) as zipped:
        others = [n for n in zipped.namelist() if n != SIGNATURE_PATH]
    assert report["ok"] and report["signature"]["ok"]
    assert report["signature"]["signed_files"] == len(others)  # MANIFEST and RECORD included
    assert "MAR-INF/RECORD.json" in others and "MAR-INF/MANIFEST.json" in others
    listing = runner.invoke(cli, ["inspect", str(signed_mar), "--no-validate"])
    assert f"signed:   {SIGNATURE_PATH}" in listing.output


def test_wrong_key_and_unsigned_archives_exit_4(tmp_path, signed_mar, keys):
    runner = CliRunner()
    wrong = runner.invoke(cli, ["verify", str(signed_mar), "--public-key", str(keys[1].public)])
    assert wrong.exit_code == 4 and "signature does not verify" in wrong.output
    plain = runner.invoke(cli, ["build", *BASE, "--export-path", str(tmp_path)])
    assert plain.exit_code == 0
    unsigned = runner.invoke(cli, ["verify", str(tmp_path / "digits.mar"), "--public-key", str(keys[0].public)])
    assert unsigned.exit_code == 4 and "the archive is not signed" in unsigned.output


def test_rewriting_files_and_record_together_is_caught(tmp_path, keys):
    """RECORD.json alone is not authenticity: an attacker can update it; the signature catches it."""
    out = build_archive(DIGITS, model_name="digits", handler="digits_service:handle", export_path=tmp_path,
                        archive_format="no-archive", signing=SigningIdentity(key=keys[0].private)).path
    handler = out / "digits_service.py"
    handler.write_text(handler.read_text() + "\nimport os  # injected\n")
    record = parse_record((out / "MAR-INF" / "RECORD.json").read_bytes())
    import hashlib
    from model_archiver.record import FileRecord

    data = handler.read_bytes()
    record["digits_service.py"] = FileRecord("digits_service.py", hashlib.sha256(data).hexdigest(), len(data))
    (out / "MAR-INF" / "RECORD.json").write_bytes(dump_record(record.values()))
    runner = CliRunner()
    assert runner.invoke(cli, ["verify", str(out)]).exit_code == 0  # the record is consistent again
    caught = runner.invoke(cli, ["verify", str(out), "--public-key", str(keys[0].public)])
    assert caught.exit_code == 4
    assert "digits_service.py: changed since it was signed" in caught.output
    assert "MAR-INF/RECORD.json: changed since it was signed" in caught.output
    streamed = verify_signature(out, TrustAnchor(public_key=keys[0].public))  # every file re-hashed
    assert "digits_service.py: changed since it was signed" in streamed.problems


def test_upstream_model_signing_accepts_the_extracted_archive(tmp_path, signed_mar, keys):
    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(signed_mar) as zipped:
        zipped.extractall(extracted)
    accepted = upstream_verify(extracted, "key", "--public_key", str(keys[0].public))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    (extracted / "synset.txt").write_text("tampered\n")
    rejected = upstream_verify(extracted, "key", "--public_key", str(keys[0].public))
    assert rejected.returncode != 0 and "synset.txt" in rejected.stdout + rejected.stderr


def test_sign_command_signs_tgz_and_replaces_a_signature(tmp_path, signed_mar, keys):
    runner = CliRunner()
    built = runner.invoke(cli, ["build", *BASE, "--export-path", str(tmp_path), "--archive-format", "tgz",
                                "--tgz-layout", "folder"])
    assert built.exit_code == 0, built.output
    tgz = tmp_path / "digits.tar.gz"
    signed = runner.invoke(cli, ["sign", str(tgz), "--key", str(keys[1].private)])
    assert signed.exit_code == 0, signed.output
    with tarfile.open(tgz) as tar:
        assert f"digits/{SIGNATURE_PATH}" in tar.getnames()
    assert runner.invoke(cli, ["verify", str(tgz), "--public-key", str(keys[1].public)]).exit_code == 0

    mar = tmp_path / "resigned.mar"
    shutil.copy(signed_mar, mar)
    assert runner.invoke(cli, ["sign", str(mar), "--key", str(keys[1].private)]).exit_code == 0
    with zipfile.ZipFile(mar) as zipped:
        assert zipped.namelist().count(SIGNATURE_PATH) == 1
        assert zipped.testzip() is None
    assert runner.invoke(cli, ["verify", str(mar), "--public-key", str(keys[1].public)]).exit_code == 0
    assert runner.invoke(cli, ["verify", str(mar), "--public-key", str(keys[0].public)]).exit_code == 4


def test_certificate_signing_checks_against_the_chain_here_and_upstream(tmp_path, keys):
    pki = keys[2]
    result = CliRunner().invoke(cli, ["build", *BASE, "--export-path", str(tmp_path), "--archive-format", "no-archive",
                                      "--sign-key", str(pki.private), "--sign-certificate", str(pki.certificate),
                                      "--sign-certificate-chain", str(pki.ca_certificate)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "digits"
    report = verify_signature(folder, TrustAnchor(certificate_chain=(pki.ca_certificate,)))
    assert report.ok, report.problems
    stranger_ca = certified_key(tmp_path / "other").ca_certificate
    assert not verify_signature(folder, TrustAnchor(certificate_chain=(stranger_ca,))).ok
    accepted = upstream_verify(folder, "certificate", "--certificate_chain", str(pki.ca_certificate))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_a_bad_key_fails_the_build_before_anything_is_written(tmp_path, keys):
    result = CliRunner().invoke(cli, ["build", *BASE, "--export-path", str(tmp_path),
                                      "--sign-key", str(keys[0].public)])
    assert result.exit_code == 2 and "cannot use" in result.output
    assert not (tmp_path / "digits.mar").exists()


@pytest.mark.skipif(not os.environ.get("SIGSTORE_IDENTITY_TOKEN"),
                    reason="Sigstore keyless signing needs the network and an OIDC token (SIGSTORE_IDENTITY_TOKEN)")
def test_sigstore_keyless_signing(tmp_path, signed_mar):
    mar = tmp_path / "sigstore.mar"
    shutil.copy(signed_mar, mar)
    signed = CliRunner().invoke(cli, ["sign", str(mar), "--sigstore", "--identity-token",
                                      os.environ["SIGSTORE_IDENTITY_TOKEN"]])
    assert signed.exit_code == 0, signed.output
    with open_archive(mar) as reader:
        assert json.loads(reader.read(SIGNATURE_PATH))["verificationMaterial"]
