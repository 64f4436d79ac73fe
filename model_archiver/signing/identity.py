"""Who signs and whom a verifier trusts, mapped onto the upstream ``model_signing`` signers.

The upstream package (``model-signing`` 1.1.1, pinned) hashes a directory on
disk; an archive is not one, so we hand its signers a manifest built from the
archive's own digests and use its signer/verifier classes directly. They are
imported lazily: signing is an optional extra and building must stay light.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from model_archiver.errors import UsageError

_INSTALL_HINT = "signing needs the optional extra: pip install 'model-archiver[signing]'"


@dataclass(frozen=True)
class SigningIdentity:
    """A private key (PEM, elliptic curve), optionally with its certificate and chain; or Sigstore.

    ``sigstore=True`` signs keyless through Sigstore's public instance (OIDC
    login, needs the network); ``identity_token`` skips the browser flow in CI.
    """

    key: Path | None = None
    password: str | None = None
    certificate: Path | None = None
    certificate_chain: Sequence[Path] = field(default_factory=tuple)
    sigstore: bool = False
    identity_token: str | None = None

    def signer(self) -> Any:
        _require_package()
        from model_signing._signing import sign_certificate, sign_ec_key, sign_sigstore

        if self.sigstore:
            return sign_sigstore.Signer(identity_token=self.identity_token)
        if self.key is None:
            raise UsageError("signing needs a private key (--sign-key/--key) or Sigstore (--sigstore)")
        _must_exist(self.key, "private key")
        try:
            if self.certificate is not None:
                _must_exist(self.certificate, "signing certificate")
                if not self.certificate_chain:  # model-signing 1.1.1 cannot sign with an empty chain
                    raise UsageError("certificate signing needs the issuing chain too (--sign-certificate-chain)")
                return sign_certificate.Signer(Path(self.key), Path(self.certificate),
                                               [Path(c) for c in self.certificate_chain])
            return sign_ec_key.Signer(Path(self.key), self.password)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"cannot use {self.key} to sign: {exc}") from None


@dataclass(frozen=True)
class TrustAnchor:
    """What a verifier trusts: a public key, a certificate chain, or a Sigstore identity."""

    public_key: Path | None = None
    certificate_chain: Sequence[Path] = field(default_factory=tuple)
    sigstore_identity: str | None = None
    sigstore_issuer: str | None = None

    @property
    def uses_sigstore(self) -> bool:
        return self.sigstore_identity is not None

    def verifier(self) -> Any:
        _require_package()
        from model_signing._signing import sign_certificate, sign_ec_key, sign_sigstore

        if self.public_key is not None:
            _must_exist(self.public_key, "public key")
            try:
                return sign_ec_key.Verifier(Path(self.public_key))
            except (ValueError, TypeError) as exc:
                raise UsageError(f"cannot read public key {self.public_key}: {exc}") from None
        if self.certificate_chain:
            for cert in self.certificate_chain:
                _must_exist(cert, "certificate")
            return sign_certificate.Verifier([Path(c) for c in self.certificate_chain])
        if self.sigstore_identity and self.sigstore_issuer:
            return sign_sigstore.Verifier(identity=self.sigstore_identity, oidc_issuer=self.sigstore_issuer)
        raise UsageError("give --public-key, --certificate-chain, or --sigstore-identity with --sigstore-issuer")


def _require_package() -> None:
    try:
        import model_signing  # noqa: F401
    except ImportError:
        raise UsageError(_INSTALL_HINT) from None


def _must_exist(path: Path, what: str) -> None:
    if not Path(path).is_file():
        raise UsageError(f"{what} not found: {path}")
