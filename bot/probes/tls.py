"""TLS contexts for probes, and what a failed handshake means in words a finding can use."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID


@lru_cache(maxsize=8)
def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """The system trust store (so SSL_CERT_FILE works), plus MAIL_DOCTOR_CA_FILE if set."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


@lru_cache(maxsize=1)
def inspecting_context() -> ssl.SSLContext:
    """No verification: only to read a certificate that failed verification; never to log in."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@lru_cache(maxsize=1)
def legacy_context() -> ssl.SSLContext:
    """TLS 1.0/1.1 and weak ciphers allowed: only to tell 'this server is too old'."""
    context = inspecting_context.__wrapped__()
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


# OpenSSL X509_V_ERR_* codes seen in SSLCertVerificationError.verify_code
_VERIFY_KIND = {
    9: "cert_not_yet_valid",
    10: "cert_expired",
    18: "cert_untrusted",  # self-signed leaf
    19: "cert_untrusted",  # self-signed certificate in the chain
    20: "cert_untrusted",  # unable to get local issuer
    21: "cert_untrusted",
    62: "cert_hostname_mismatch",
}

_LEGACY_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "DH_KEY_TOO_SMALL",
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "NO_SHARED_CIPHER",
    "NO_CIPHERS_AVAILABLE",
    "UNSAFE_LEGACY_RENEGOTIATION_DISABLED",
}


def classify_tls_error(exc: BaseException) -> tuple[str, str]:
    """(kind, detail): kind is cert_*, plaintext_peer, maybe_legacy, timeout or handshake_failed."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        kind = _VERIFY_KIND.get(exc.verify_code, "cert_untrusted")
        if kind == "cert_untrusted" and "hostname" in (exc.verify_message or "").lower():
            kind = "cert_hostname_mismatch"
        return kind, exc.verify_message or str(exc)
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        if reason in (
            "WRONG_VERSION_NUMBER",
            "HTTP_REQUEST",
            "UNKNOWN_PROTOCOL",
            "RECORD_LAYER_FAILURE",
        ):
            # A plain-text greeting ("220 ...", "* OK", "+OK") read as a TLS record.
            return "plaintext_peer", reason
        if reason in _LEGACY_REASONS:
            return "maybe_legacy", reason
        return "handshake_failed", reason or str(exc)[:200]
    if isinstance(exc, TimeoutError):
        return "timeout", "the TLS handshake did not finish"
    if isinstance(exc, ConnectionError | OSError | EOFError):
        return (
            "handshake_failed",
            f"the server closed the connection during the handshake ({type(exc).__name__})",
        )
    return "handshake_failed", f"{type(exc).__name__}: {exc}"[:200]


@dataclass
class CertInfo:
    subject_cn: str | None
    names: list[str]  # subjectAltName DNS names
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "subject_cn": self.subject_cn,
            "names": self.names,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "self_signed": self.self_signed,
        }


def parse_certificate(der: bytes) -> CertInfo | None:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    subject_cn = str(cns[0].value) if cns else None
    return CertInfo(
        subject_cn=subject_cn,
        names=names or ([subject_cn] if subject_cn else []),
        issuer=cert.issuer.rfc4514_string()[:200],
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.issuer == cert.subject,
    )


@dataclass
class TlsInfo:
    version: str | None = None
    cipher: str | None = None
    verified: bool = False
    error_kind: str | None = None
    error: str | None = None
    certificate: CertInfo | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "cipher": self.cipher,
            "verified": self.verified,
            "error_kind": self.error_kind,
            "error": self.error,
            "certificate": self.certificate.to_json() if self.certificate else None,
        }


def describe_session(obj: ssl.SSLObject | None, info: TlsInfo) -> None:
    if obj is None:
        return
    info.version = obj.version()
    cipher = obj.cipher()
    info.cipher = cipher[0] if cipher else None
    der = obj.getpeercert(binary_form=True)
    if der and info.certificate is None:
        info.certificate = parse_certificate(der)
