"""Authenticity for archives: OpenSSF model-signing signatures in ``MAR-INF/model.sig``.

Needs the optional extra: ``pip install 'model-archiver[signing]'``.
"""
from model_archiver.signing.archive_signature import (
    SIGNATURE_PATH,
    SignatureReport,
    sign_archive,
    signature_for_digests,
    verify_signature,
)
from model_archiver.signing.identity import SigningIdentity, TrustAnchor

__all__ = ["SIGNATURE_PATH", "SignatureReport", "SigningIdentity", "TrustAnchor", "sign_archive",
           "signature_for_digests", "verify_signature"]
