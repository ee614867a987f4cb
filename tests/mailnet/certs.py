"""Test CA and server certificates (valid, expired, not yet valid, wrong name, self-signed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import layout

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certs:
    ca: Path
    valid: CertPair  # the good host and every other host meant to verify
    web: CertPair  # the autoconfig HTTPS host
    expired: CertPair
    future: CertPair
    wrongname: CertPair
    selfsigned: CertPair


def _key() -> ec.EllipticCurvePrivateKey:
    # EC P-256: generating it is instant, unlike RSA.
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mail-doctor tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertPair:
    cert_path = directory / f"{stem}.pem"
    key_path = directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return CertPair(cert_path, key_path)


def _leaf(
    names: tuple[str, ...],
    not_before: dt.datetime,
    not_after: dt.datetime,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    subject = _name(names[0])
    # No issuer given: self-signed.
    signer = issuer_key or key
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    )
    return builder.sign(signer, hashes.SHA256()), key


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    ca_key = _key()
    ca_name = _name("mail-doctor test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = _write(directory, "ca", ca_cert, ca_key).cert

    def signed(stem: str, names: tuple[str, ...], start: dt.datetime, end: dt.datetime) -> CertPair:
        cert, key = _leaf(names, start, end, ca_name, ca_key)
        return _write(directory, stem, cert, key)

    valid_names = layout.GOOD_NAMES + layout.VALID_CERT_EXTRA_NAMES
    selfsigned_cert, selfsigned_key = _leaf(
        ("mail.selfsigned.test",), now - DAY, now + 365 * DAY, None, None
    )
    return Certs(
        ca=ca_path,
        valid=signed("valid", valid_names, now - DAY, now + 365 * DAY),
        web=signed("web", layout.WEB_NAMES, now - DAY, now + 365 * DAY),
        expired=signed("expired", ("mail.expired.test",), now - 60 * DAY, now - 30 * DAY),
        future=signed("future", ("mail.future.test",), now + 30 * DAY, now + 395 * DAY),
        wrongname=signed("wrongname", (layout.WRONG_NAME,), now - DAY, now + 365 * DAY),
        selfsigned=_write(directory, "selfsigned", selfsigned_cert, selfsigned_key),
    )
