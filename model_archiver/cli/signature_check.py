"""Options and output shared by ``verify`` and ``sign`` for signatures (``MAR-INF/model.sig``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_TRUST = [
    click.option("--public-key", type=_FILE, help="Also check the signature against this PEM public key."),
    click.option("--certificate-chain", multiple=True, type=_FILE,
                 help="Also check the signature's certificate against this chain (repeatable)."),
    click.option("--sigstore-identity", metavar="EMAIL", help="Also check a Sigstore signature by this identity."),
    click.option("--sigstore-issuer", metavar="URL", help="With --sigstore-identity: its OIDC issuer."),
]


def trust_options(command: Callable) -> Callable:
    for option in reversed(_TRUST):
        command = option(command)
    return command


def check(archive: Path, trust: dict[str, Any], record_verified: bool = False) -> Any:
    """The :class:`SignatureReport`, or None when no trust anchor was given.

    ``record_verified``: every file just matched RECORD.json, so its digests stand in for a second pass.
    """
    if not (trust.get("public_key") or trust.get("certificate_chain") or trust.get("sigstore_identity")):
        return None
    from model_archiver.signing import TrustAnchor, verify_signature

    anchor = TrustAnchor(trust.get("public_key"), tuple(trust.get("certificate_chain") or ()),
                         trust.get("sigstore_identity"), trust.get("sigstore_issuer"))
    return verify_signature(archive, anchor, record_verified=record_verified)


def echo(report: Any) -> None:
    if report is None:
        return
    for problem in report.problems:
        click.echo(f"signature: {problem}", err=True)
    if report.ok:
        click.echo(f"OK: signature covers all {report.signed_files} files ({report.seconds:.2f}s)")
