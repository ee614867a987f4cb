"""Parsing what people type: e-mail addresses, host names and server SPECs.

Every function here raises InputError with a message meant for the person who typed the value;
nothing else escapes.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass

from bot.model import Endpoint, Protocol, Security, default_port, implied_security

MAX_HOST_LENGTH = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SECURITY_WORDS = {s.value: s for s in Security}


class InputError(ValueError):
    """A value typed by a person is not usable; `key` names the message in both languages."""

    def __init__(self, key: str, value: str, **params: object) -> None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        super().__init__(f"{key}: {shown!r}")
        self.key = key
        self.value = shown
        self.params = params


def normalize_text(text: str) -> str:
    """NFKC folds full-width letters, digits and punctuation (ｇｍａｉｌ．ｃｏｍ, ＠) to ASCII."""
    return unicodedata.normalize("NFKC", text).strip()


def normalize_host(host: str) -> str:
    """Lower-case ASCII (punycode) form of a host name or IP literal."""
    raw = host
    host = normalize_text(host).rstrip(".").lower()
    if not host:
        raise InputError("input.host_empty", raw)
    if len(host) > MAX_HOST_LENGTH * 4:  # cheap guard before any IDNA work on a huge value
        raise InputError("input.host_too_long", raw, limit=MAX_HOST_LENGTH)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InputError("input.host_invalid", raw) from None
    if len(ascii_host) > MAX_HOST_LENGTH:
        raise InputError("input.host_too_long", raw, limit=MAX_HOST_LENGTH)
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InputError("input.host_invalid", raw)
    if labels[-1].isdigit():
        raise InputError("input.host_invalid", raw)
    return ascii_host


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MailAddress:
    address: str  # as typed, normalised (local part kept, domain in ASCII)
    local_part: str
    domain: str  # ASCII (punycode) form


def parse_address(text: str) -> MailAddress:
    raw = text
    text = normalize_text(text)
    # Slack wraps addresses as <mailto:a@b|a@b>; people paste "Name <a@b>".
    match = re.search(r"<(?:mailto:)?([^<>|]+)(?:\|[^<>]*)?>", text)
    if match:
        text = match.group(1)
    text = text.removeprefix("mailto:").strip()
    if "@" not in text:
        raise InputError("input.address_no_at", raw)
    local, _, domain = text.rpartition("@")
    if not local or any(c.isspace() for c in local) or len(local) > 64:
        raise InputError("input.address_invalid", raw)
    domain = normalize_host(domain)
    if is_ip_literal(domain):
        raise InputError("input.address_invalid", raw)
    return MailAddress(address=f"{local}@{domain}", local_part=local, domain=domain)


@dataclass(frozen=True)
class UserSetting:
    """What a person's mail app is set to; port and security may be unknown."""

    protocol: Protocol
    host: str
    port: int | None = None
    security: Security | None = None

    def endpoint(self) -> Endpoint:
        """The endpoint to probe, filling what the person did not say with the usual value."""
        security = self.security
        port = self.port
        if security is None:
            security = implied_security(self.protocol, port) if port else Security.SSL
        if port is None:
            port = default_port(self.protocol, security)
        return Endpoint(self.protocol, self.host, port, security)


_SPEC = re.compile(r"^(?P<host>\[[^\]]*\]|[^:/\[\]]+)(?::(?P<port>[^/]*))?(?:/(?P<security>.*))?$")


def parse_spec(text: str, protocol: Protocol) -> UserSetting:
    """Parse HOST[:PORT][/SECURITY], SECURITY one of ssl, starttls, none."""
    raw = text
    text = normalize_text(text)
    match = _SPEC.match(text)
    if not match:
        raise InputError("input.spec_invalid", raw)
    host = normalize_host(match.group("host"))
    port: int | None = None
    if match.group("port") is not None:
        port_text = match.group("port").strip()
        if not port_text.isdigit() or len(port_text) > 5 or not 1 <= int(port_text) <= 65535:
            raise InputError("input.port_invalid", raw, port=port_text[:10])
        port = int(port_text)
    security: Security | None = None
    if match.group("security") is not None:
        word = match.group("security").strip().lower()
        if word not in _SECURITY_WORDS:
            raise InputError("input.security_invalid", raw, word=word[:20])
        security = _SECURITY_WORDS[word]
    return UserSetting(protocol, host, port, security)
