"""What one probe of one endpoint saw, stage by stage (the evidence behind every finding)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.model import Endpoint
from bot.probes.tls import TlsInfo


class Failure(StrEnum):
    """Why a probe stopped before the endpoint proved usable."""

    POLICY_INTERNAL = "policy_internal"
    POLICY_PORT = "policy_port"
    POLICY_LIMIT = "policy_limit"  # the check had dialled as many addresses as it may
    HOST_NOT_FOUND = "host_not_found"
    DNS_FAILED = "dns_failed"
    DNS_LOOP = "dns_loop"  # the name is a CNAME chain that loops (or never ends)
    REFUSED = "refused"
    TIMEOUT = "timeout"  # connect got no answer: dropped by a firewall
    UNREACHABLE = "unreachable"
    IPV6_ONLY = "ipv6_only"  # the name has only IPv6 addresses, and there is no IPv6 route
    CONNECT_ERROR = "connect_error"
    EXPECTS_STARTTLS = "expects_starttls"  # TLS spoken to a port that greets in plain text
    EXPECTS_IMPLICIT = "expects_implicit"  # plain text spoken to a TLS-first port
    NO_GREETING = "no_greeting"
    TOO_SLOW = "too_slow"  # a reply began, but came so slowly the deadline passed first
    TOO_LONG = "too_long"  # a line, a reply or a connection's data beyond the read caps
    REJECTED = "rejected"  # the greeting itself is a refusal
    CERT_EXPIRED = "cert_expired"
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    CERT_HOSTNAME_MISMATCH = "cert_hostname_mismatch"
    CERT_UNTRUSTED = "cert_untrusted"
    LEGACY_PROTOCOL = "legacy_protocol"
    HANDSHAKE_FAILED = "handshake_failed"
    STARTTLS_NOT_OFFERED = "starttls_not_offered"
    STARTTLS_FAILED = "starttls_failed"
    DROPPED = "dropped"  # the server closed the connection mid-dialogue
    PROTOCOL_ERROR = "protocol_error"  # an answer that is not the protocol, or too long
    DEADLINE = "deadline"  # the check's deadline ran out during a later stage


class Note(StrEnum):
    """Things seen on the way that matter for the diagnosis but did not stop the probe."""

    STARTTLS_OFFERED = "starttls_offered"
    AUTH_NOT_OFFERED = "auth_not_offered"  # neither before nor after TLS
    AUTH_REQUIRES_TLS = "auth_requires_tls"  # AUTH appears only after STARTTLS
    LOGIN_DISABLED = "login_disabled"  # IMAP LOGINDISABLED / POP3 without USER before TLS
    OAUTH_ONLY = "oauth_only"  # only XOAUTH2 / OAUTHBEARER offered


class AuthOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    APP_PASSWORD_REQUIRED = "app_password_required"
    OAUTH_REQUIRED = "oauth_required"
    NOT_POSSIBLE = "not_possible"  # no mechanism we may use on this connection


@dataclass
class Stage:
    name: str  # dns | connect | tls | greeting | capabilities | starttls | auth
    ok: bool
    ms: int
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "ms": self.ms, "detail": self.detail}


@dataclass
class ProbeResult:
    endpoint: Endpoint
    sources: list[str] = field(default_factory=list)
    ip: str | None = None
    failure: Failure | None = None
    detail: str = ""
    stages: list[Stage] = field(default_factory=list)
    greeting: str | None = None
    capabilities: list[str] = field(default_factory=list)
    capabilities_tls: list[str] = field(default_factory=list)  # after STARTTLS
    auth_mechanisms: list[str] = field(default_factory=list)
    notes: set[Note] = field(default_factory=set)
    tls: TlsInfo | None = None
    auth: AuthOutcome | None = None
    auth_reply: str | None = None
    auth_user: str | None = None  # the user name the login tried
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.endpoint.to_json(),
            "sources": self.sources,
            "ip": self.ip,
            "ok": self.ok,
            "failure": str(self.failure) if self.failure else None,
            "detail": self.detail,
            "greeting": self.greeting,
            "capabilities": self.capabilities,
            "capabilities_after_starttls": self.capabilities_tls,
            "auth_mechanisms": self.auth_mechanisms,
            "notes": sorted(str(n) for n in self.notes),
            "tls": self.tls.to_json() if self.tls else None,
            "auth": str(self.auth) if self.auth else None,
            "auth_reply": self.auth_reply,
            "auth_user": self.auth_user,
            "stages": [s.to_json() for s in self.stages],
            "elapsed_ms": self.elapsed_ms,
        }
