"""The vocabulary the diagnosis shares: protocols, security modes, endpoints, findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Protocol(StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    POP3 = "pop3"


class Security(StrEnum):
    """What a mail app calls the connection security; the same words as a SPEC."""

    SSL = "ssl"  # TLS from the first byte ("SSL/TLS" in mail apps)
    STARTTLS = "starttls"
    NONE = "none"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


# The ports a mail app uses, per protocol and security; the first is the usual one.
STANDARD_PORTS: dict[Protocol, dict[Security, tuple[int, ...]]] = {
    Protocol.SMTP: {Security.SSL: (465,), Security.STARTTLS: (587, 25), Security.NONE: (587, 25)},
    Protocol.IMAP: {Security.SSL: (993,), Security.STARTTLS: (143,), Security.NONE: (143,)},
    Protocol.POP3: {Security.SSL: (995,), Security.STARTTLS: (110,), Security.NONE: (110,)},
}

MAIL_PORTS: frozenset[int] = frozenset({25, 465, 587, 143, 993, 110, 995, 2525})


def default_port(protocol: Protocol, security: Security) -> int:
    return STANDARD_PORTS[protocol][security][0]


def implied_security(protocol: Protocol, port: int) -> Security:
    """The security a port is normally used with, for a SPEC that names only a port."""
    for security in (Security.SSL, Security.STARTTLS):
        if port in STANDARD_PORTS[protocol][security]:
            return security
    return Security.STARTTLS


@dataclass(frozen=True)
class Endpoint:
    protocol: Protocol
    host: str
    port: int
    security: Security

    def label(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}/{self.security}"

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": str(self.protocol),
            "host": self.host,
            "port": self.port,
            "security": str(self.security),
        }


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    protocol: Protocol | None = None
    endpoint: Endpoint | None = None
    # Values the message and fix texts are filled with (host names, ports, dates, server replies).
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    suggestion: str | None = None
