"""``model-archiver sign``: add an OpenSSF model-signing signature to an existing archive."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("sign")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--key", type=_FILE, help="PEM elliptic-curve private key (password from $MODEL_ARCHIVER_KEY_PASSWORD).")
@click.option("--certificate", type=_FILE, help="With --key: its PEM signing certificate.")
@click.option("--certificate-chain", multiple=True, type=_FILE, help="With --certificate: chain (repeatable).")
@click.option("--sigstore", is_flag=True, help="Sign keyless with Sigstore (needs the network and an OIDC login).")
@click.option("--identity-token", metavar="TOKEN", help="With --sigstore: an OIDC token, e.g. from CI.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def sign(archive: Path, key: Optional[Path], certificate: Optional[Path], certificate_chain: tuple[Path, ...],
         sigstore: bool, identity_token: Optional[str], as_json: bool) -> None:
    """Sign ARCHIVE (.mar, .tar.gz or folder) in place: MAR-INF/model.sig covers every other file.

    An existing signature is replaced. The archive is rewritten beside itself
    and swapped in atomically.

    \b
    model-archiver sign digits.mar --key key.pem
    model-archiver verify digits.mar --public-key pub.pem
    """
    from model_archiver.signing import SIGNATURE_PATH, SigningIdentity, sign_archive

    setup_logging(quiet=as_json)
    identity = SigningIdentity(key=key, password=os.environ.get("MODEL_ARCHIVER_KEY_PASSWORD"),
                               certificate=certificate, certificate_chain=certificate_chain,
                               sigstore=sigstore, identity_token=identity_token)
    sign_archive(archive, identity)
    if as_json:
        emit_json({"ok": True, "archive": str(archive), "signature": SIGNATURE_PATH})
    else:
        click.echo(f"Signed {archive} ({SIGNATURE_PATH})")
