"""Sign an archive's files and check a signature, in the OpenSSF model-signing format.

The signature (a Sigstore bundle over an in-toto statement listing every file
and its sha256) is stored as ``MAR-INF/model.sig`` and covers every file of the
archive except itself - the manifest too, since it names the handler the server
will run. Because the statement lists *archive member names*, extracting the
archive gives a folder that upstream ``model_signing verify`` accepts as is.

Digests come from the archive's bytes, never from ``RECORD.json`` (which an
attacker could rewrite along with the files): signing at build time uses the
digests the writer just computed; ``sign`` and ``verify`` re-hash each member
as it streams, so nothing is extracted and memory stays flat.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from model_archiver.errors import UsageError
from model_archiver.layout import MAR_INF, RECORD_PATH, SIGNATURE_PATH
from model_archiver.packaging import atomic
from model_archiver.reading.reader import open_archive
from model_archiver.record import parse_record
from model_archiver.signing.identity import SigningIdentity, TrustAnchor

log = logging.getLogger(__name__)

_CHUNK = 4 * 1024 * 1024


@dataclass
class SignatureReport:
    """The outcome of :func:`verify_signature`; ``problems`` empty means a good signature."""

    archive: Path
    signed_files: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "archive": str(self.archive), "ok": self.ok}


def signature_for_digests(digests: Mapping[str, str], model_name: str, identity: SigningIdentity) -> bytes:
    """The bytes of ``MAR-INF/model.sig`` for files ``name -> sha256 hex`` (the signature excluded)."""
    from model_signing._signing import signing

    signer = identity.signer()
    payload = signing.Payload(_manifest(digests, model_name))
    try:
        signature = signer.sign(payload)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"signing failed: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="model-archiver-sig-") as work:
        target = Path(work) / "model.sig"
        signature.write(target)
        return target.read_bytes()


def sign_archive(path: str | Path, identity: SigningIdentity) -> Path:
    """Add (or replace) the signature of an existing archive, atomically; returns the archive path."""
    path = Path(path)
    with open_archive(path) as reader:
        digests = _digests(reader)
        model_name = reader.manifest.get("model", {}).get("modelName", path.stem)
        kind = reader.kind
    signature = signature_for_digests(digests, model_name, identity)
    if path.is_dir():
        target = path / SIGNATURE_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(signature)
    elif kind == "mar":
        _rewrite_zip(path, signature)
    else:
        _rewrite_tar(path, signature)
    return path


def verify_signature(path: str | Path, trust: TrustAnchor, *, record_verified: bool = False) -> SignatureReport:
    """Check ``MAR-INF/model.sig`` against ``trust`` and every file's bytes; problems go in the report.

    ``record_verified=True`` says every file was just checked against
    ``RECORD.json`` (``verify_archive`` passed): then only RECORD.json itself is
    hashed and the other digests are taken from it - sound, because the
    signature covers RECORD.json's own digest - saving a second pass over the
    archive.
    """
    started = time.perf_counter()
    report = SignatureReport(Path(path))
    with open_archive(path) as reader:
        if SIGNATURE_PATH not in reader.members():
            report.problems.append(f"{SIGNATURE_PATH}: the archive is not signed")
            return report
        expected = _signed_digests(reader.read(SIGNATURE_PATH), trust, report)
        if expected is None:
            return report
        actual = _recorded_digests(reader) if record_verified else None
        actual = actual if actual is not None else _digests(reader)
    report.signed_files = len(expected)
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            report.problems.append(f"{name}: signed but missing from the archive")
        elif name not in expected:
            report.problems.append(f"{name}: not covered by the signature")
        elif expected[name] != actual[name]:
            report.problems.append(f"{name}: changed since it was signed")
    report.seconds = time.perf_counter() - started
    return report


def _manifest(digests: Mapping[str, str], model_name: str) -> Any:
    from model_signing import manifest
    from model_signing._hashing import hashing

    serialization = manifest._FileSerialization("sha256", False, [PurePosixPath(SIGNATURE_PATH)])
    items = [manifest.FileManifestItem(path=PurePosixPath(name), digest=hashing.Digest("sha256", bytes.fromhex(d)))
             for name, d in sorted(digests.items()) if name != SIGNATURE_PATH]
    return manifest.Manifest(model_name, items, serialization)


def _signed_digests(raw: bytes, trust: TrustAnchor, report: SignatureReport) -> dict[str, str] | None:
    """``name -> sha256`` the signature vouches for, or None (with a problem) if it does not check out."""
    verifier = trust.verifier()
    from model_signing._signing import sign_sigstore, sign_sigstore_pb

    reader = sign_sigstore.Signature if trust.uses_sigstore else sign_sigstore_pb.Signature
    with tempfile.TemporaryDirectory(prefix="model-archiver-sig-") as work:
        sig_file = Path(work) / "model.sig"
        sig_file.write_bytes(raw)
        try:
            manifest = verifier.verify(reader.read(sig_file))
        except Exception as exc:  # the upstream verifiers raise many types for one meaning: not trusted
            report.problems.append(f"{SIGNATURE_PATH}: signature does not verify: {exc or type(exc).__name__}")
            return None
    params = manifest.serialization_type
    if params.get("method") != "files" or params.get("hash_type") != "sha256":
        report.problems.append(f"{SIGNATURE_PATH}: unsupported serialization {params}; expected files/sha256")
        return None
    return {rd.identifier: rd.digest.digest_hex for rd in manifest.resource_descriptors()}


def _recorded_digests(reader: Any) -> dict[str, str] | None:
    """RECORD's digests plus RECORD.json's own, or None when the archive has no RECORD."""
    if RECORD_PATH not in reader.members():
        return None
    raw = reader.read(RECORD_PATH)
    digests = {name: entry.sha256 for name, entry in parse_record(raw).items()}
    digests[RECORD_PATH] = hashlib.sha256(raw).hexdigest()
    return digests


def _digests(reader: Any) -> dict[str, str]:
    digests = {}
    for name, handle in reader.iter_files():
        if name == SIGNATURE_PATH:
            continue
        digest = hashlib.sha256()
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        digests[name] = digest.hexdigest()
    return digests


def _rewrite_zip(path: Path, signature: bytes) -> None:
    """Copy every entry (same metadata and compression) and append the signature, then swap files."""
    with zipfile.ZipFile(path) as source, atomic.atomic_file(path, True) as temp:
        with zipfile.ZipFile(temp, "w", allowZip64=True) as out:
            infos = [i for i in source.infolist() if i.filename != SIGNATURE_PATH]
            for info in infos:
                with source.open(info) as src, out.open(_copy_info(info), "w", force_zip64=info.file_size >= 1 << 31) as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
            sig_info = zipfile.ZipInfo(SIGNATURE_PATH, date_time=infos[-1].date_time if infos else (1980, 1, 1, 0, 0, 0))
            sig_info.compress_type = zipfile.ZIP_DEFLATED
            sig_info.create_system = 3
            sig_info.external_attr = 0o100644 << 16
            sig_info.file_size = len(signature)
            with out.open(sig_info, "w") as dst:
                dst.write(signature)


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    copy.compress_type = info.compress_type
    copy.create_system = info.create_system
    copy.external_attr = info.external_attr
    copy.file_size = info.file_size
    return copy


def _rewrite_tar(path: Path, signature: bytes) -> None:
    """Stream every member into a new gzip tarball with the signature added, then swap files."""
    import io

    with tarfile.open(path, "r:*") as source, atomic.atomic_file(path, True) as temp:
        members = [m for m in source.getmembers()]
        prefix = _tar_prefix(members)
        with tarfile.open(temp, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as out:
            for member in members:
                if member.name == prefix + SIGNATURE_PATH:
                    continue
                out.addfile(member, source.extractfile(member) if member.isfile() else None)
            info = tarfile.TarInfo(prefix + SIGNATURE_PATH)
            info.size, info.mode = len(signature), 0o644
            info.mtime = members[-1].mtime if members else 0
            out.addfile(info, io.BytesIO(signature))


def _tar_prefix(members: list[tarfile.TarInfo]) -> str:
    """``"<model>/"`` when the tarball uses MMS's folder layout, else ``""``."""
    names = [m.name for m in members]
    if f"{MAR_INF}/MANIFEST.json" in names:
        return ""
    top = names[0].split("/", 1)[0] if names else ""
    return f"{top}/" if f"{top}/{MAR_INF}/MANIFEST.json" in names else ""
