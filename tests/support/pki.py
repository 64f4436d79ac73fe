"""Throw-away EC keys and a two-level certificate chain for the signing tests."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


@dataclass(frozen=True)
class CertifiedKey:
    private: Path
    certificate: Path
    ca_certificate: Path


def key_pair(folder: Path, name: str = "signer") -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.key.pem", folder / f"{name}.pub.pem"
    private.write_bytes(_private_pem(key))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return KeyPair(private, public)


def certified_key(folder: Path) -> CertifiedKey:
    """A CA certificate and a leaf certificate (key usage: digital signature) it issued."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name, leaf_name = _name("Test Model CA"), _name("model-builder@example.com")
    ca = (_builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(_usage(cert_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (_builder(leaf_name, ca_name, leaf_key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    paths = CertifiedKey(folder / "leaf.key.pem", folder / "leaf.cert.pem", folder / "ca.cert.pem")
    paths.private.write_bytes(_private_pem(leaf_key))
    paths.certificate.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths.ca_certificate.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30)))


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)
