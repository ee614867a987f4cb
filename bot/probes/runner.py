"""Probe one endpoint stage by stage: DNS, connect, TLS, greeting, capabilities, STARTTLS, login.

Each stage is timed and bounded by the check's deadline; the first stage that fails decides the
probe's Failure, and later stages are not tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.addresses import is_ip_literal
from bot.config import Settings
from bot.model import Endpoint, Protocol, Security
from bot.netpolicy import PolicyRefused
from bot.probes import tls as tlsmod
from bot.probes.dialect import OAUTH_MECHANISMS, Dialect, Reply
from bot.probes.dns import CNAME_LOOP, DnsClient, DnsError, DnsStatus
from bot.probes.imap import ImapDialect
from bot.probes.pop3 import Pop3Dialect
from bot.probes.result import AuthOutcome, Failure, Note, ProbeResult, Stage
from bot.probes.smtp import SmtpDialect
from bot.probes.transport import ConnectFailed, Connection, Deadline, ReadFailed, open_tcp

log = logging.getLogger(__name__)

# A plain-text greeting normally comes at once; after this much silence we also try TLS, in
# parallel, to tell "this port wants TLS first" from "this server says nothing".
TLS_SNIFF_AFTER = 1.5
COMMAND_TIMEOUT = 10.0

DIALECTS: dict[Protocol, Callable[[], Dialect]] = {
    Protocol.SMTP: SmtpDialect,
    Protocol.IMAP: ImapDialect,
    Protocol.POP3: Pop3Dialect,
}

_TLS_FAILURE = {
    "cert_expired": Failure.CERT_EXPIRED,
    "cert_not_yet_valid": Failure.CERT_NOT_YET_VALID,
    "cert_hostname_mismatch": Failure.CERT_HOSTNAME_MISMATCH,
    "cert_untrusted": Failure.CERT_UNTRUSTED,
    "plaintext_peer": Failure.EXPECTS_STARTTLS,
    "timeout": Failure.NO_GREETING,
    "handshake_failed": Failure.HANDSHAKE_FAILED,
    "maybe_legacy": Failure.HANDSHAKE_FAILED,
}

# After a STARTTLS go-ahead the server has promised TLS: whatever then goes wrong in the
# handshake is a failed handshake, not a port that "wants plain text" or "never spoke".
_STARTTLS_HANDSHAKE_DETAIL = {
    "plaintext_peer": "the server agreed to STARTTLS, then sent something that is not TLS",
    "timeout": "the server agreed to STARTTLS, then did not finish the TLS handshake",
}

_POLICY_FAILURE = {
    "port_not_allowed": Failure.POLICY_PORT,
    "connection_limit": Failure.POLICY_LIMIT,
}

_CONNECT_FAILURE = {
    "refused": Failure.REFUSED,
    "timeout": Failure.TIMEOUT,
    "unreachable": Failure.UNREACHABLE,
    "error": Failure.CONNECT_ERROR,
}


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:  # never print the password, not even in a traceback
        return f"Credentials(user={self.user!r}, password=<hidden>)"


@dataclass
class ProbeContext:
    dns: DnsClient
    settings: Settings
    deadline: Deadline


class _Stop(Exception):
    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(failure)
        self.failure = failure
        self.detail = detail


class _Timer:
    def __init__(self, result: ProbeResult, name: str) -> None:
        self.result = result
        self.name = name
        self.started = time.monotonic()

    def done(self, ok: bool, detail: str = "") -> None:
        ms = int((time.monotonic() - self.started) * 1000)
        self.result.stages.append(Stage(self.name, ok, ms, detail[:300]))


async def probe(
    ctx: ProbeContext, endpoint: Endpoint, *, login: Credentials | None = None
) -> ProbeResult:
    """Probe `endpoint`; with `login`, also try to log in with those credentials."""
    result = ProbeResult(endpoint)
    started = time.monotonic()
    conn: Connection | None = None
    if ctx.deadline.remaining() < 0.05:
        result.failure, result.detail = Failure.DEADLINE, "no time left in the check"
        return result
    try:
        conn = await _run(ctx, endpoint, result, login=login)
    except _Stop as stop:
        result.failure = stop.failure
        result.detail = stop.detail
    except ReadFailed as exc:
        result.failure = _read_failure(ctx, exc)
        result.detail = exc.detail or str(exc)
    except Exception as exc:
        # A server must never be able to crash a check: whatever it did becomes evidence.
        log.exception("probe of %s failed unexpectedly", endpoint.label())
        result.failure = Failure.PROTOCOL_ERROR
        result.detail = f"unexpected {type(exc).__name__}"
    finally:
        if conn is not None:
            await conn.close()
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result


def _read_failure(ctx: ProbeContext, exc: ReadFailed) -> Failure:
    if exc.kind == "timeout":
        return Failure.DEADLINE if ctx.deadline.remaining() <= 0.05 else Failure.NO_GREETING
    if exc.kind == "slow":
        return Failure.TOO_SLOW
    if exc.kind == "closed":
        return Failure.DROPPED
    if exc.kind == "too_long":
        return Failure.TOO_LONG
    return Failure.PROTOCOL_ERROR


async def _resolve(ctx: ProbeContext, endpoint: Endpoint, result: ProbeResult) -> list[str]:
    timer = _Timer(result, "dns")
    try:
        ips = await asyncio.wait_for(ctx.dns.addresses(endpoint.host), ctx.deadline.remaining())
    except DnsError as exc:
        timer.done(False, str(exc))
        if exc.status in (DnsStatus.NXDOMAIN, DnsStatus.NODATA):
            raise _Stop(Failure.HOST_NOT_FOUND, str(exc.status)) from None
        if exc.detail == CNAME_LOOP:
            raise _Stop(Failure.DNS_LOOP, CNAME_LOOP) from None
        raise _Stop(Failure.DNS_FAILED, exc.detail) from None
    except TimeoutError:
        timer.done(False, "timeout")
        raise _Stop(Failure.DNS_FAILED, "timeout") from None
    timer.done(True, ", ".join(ips))
    return ips


async def _connect(
    ctx: ProbeContext, endpoint: Endpoint, ips: list[str], result: ProbeResult | None
) -> Connection:
    timer = _Timer(result, "connect") if result else None
    try:
        conn = await open_tcp(
            ips,
            endpoint.port,
            ctx.settings.allow_networks,
            ctx.deadline.cap(ctx.settings.timeout),
            budget=ctx.dns.budget,
        )
    except PolicyRefused as exc:
        if timer:
            timer.done(False, str(exc))
        raise _Stop(_POLICY_FAILURE.get(exc.reason, Failure.POLICY_INTERNAL), exc.target) from None
    except ConnectFailed as exc:
        if timer:
            timer.done(False, exc.kind)
        if exc.ipv6_only and not is_ip_literal(endpoint.host.strip("[]")):
            raise _Stop(Failure.IPV6_ONLY, ", ".join(exc.tried)) from None
        raise _Stop(_CONNECT_FAILURE[exc.kind], exc.detail) from None
    if timer and result:
        timer.done(True, conn.ip)
        result.ip = conn.ip
    return conn


async def _handshake(
    ctx: ProbeContext, conn: Connection, endpoint: Endpoint, result: ProbeResult
) -> None:
    """TLS with verification; on failure, learn what the server has (certificate, old TLS)."""
    timer = _Timer(result, "tls")
    result.tls = tlsmod.TlsInfo()
    context = tlsmod.verifying_context(ctx.settings.ca_file)
    try:
        await conn.start_tls(context, endpoint.host, ctx.deadline.remaining())
    except (ssl.SSLError, TimeoutError, ConnectionError, OSError, EOFError) as exc:
        kind, detail = tlsmod.classify_tls_error(exc)
        if endpoint.security is not Security.SSL and kind in _STARTTLS_HANDSHAKE_DETAIL:
            kind, detail = "handshake_failed", _STARTTLS_HANDSHAKE_DETAIL[kind]
        timer.done(False, detail)
        result.tls.error_kind, result.tls.error = kind, detail
        failure = _TLS_FAILURE.get(kind, Failure.HANDSHAKE_FAILED)
        if kind.startswith("cert_") or kind == "maybe_legacy":
            legacy = kind == "maybe_legacy"
            inspected = await _inspect(ctx, endpoint, result, legacy=legacy)
            if legacy and inspected:
                failure = Failure.LEGACY_PROTOCOL
        raise _Stop(failure, detail) from None
    result.tls.verified = True
    tlsmod.describe_session(conn.tls_object(), result.tls)
    timer.done(True, f"{result.tls.version} {result.tls.cipher}")


async def _tls_session(
    ctx: ProbeContext, endpoint: Endpoint, ip: str, context: ssl.SSLContext
) -> Connection | None:
    """A second connection, TLS up (via STARTTLS when the endpoint says so), or None."""
    conn: Connection | None = None
    try:
        conn = await _connect(ctx, endpoint, [ip], None)
        if endpoint.security is Security.STARTTLS:
            dialect = DIALECTS[endpoint.protocol]()
            timeout = ctx.deadline.cap(COMMAND_TIMEOUT)
            await dialect.read_greeting(conn, timeout)
            await dialect.capabilities(conn, timeout)
            if not (await dialect.starttls(conn, timeout)).ok:
                await conn.close()
                return None
        await conn.start_tls(context, endpoint.host, ctx.deadline.remaining())
        return conn
    except (_Stop, ReadFailed, ssl.SSLError, TimeoutError, ConnectionError, OSError, EOFError):
        if conn is not None:
            conn.broken = True
            await conn.close()
        return None
    except BaseException:
        # Cancelled (the greeting came after all, or the deadline): never leave it open.
        if conn is not None:
            conn.broken = True
            await conn.close()  # a broken connection is aborted at once, without waiting
        raise


async def _inspect(
    ctx: ProbeContext, endpoint: Endpoint, result: ProbeResult, *, legacy: bool
) -> bool:
    """Read the certificate and TLS version that failed verification. Never used to log in."""
    if ctx.deadline.remaining() < 0.2 or result.ip is None:
        return False
    context = tlsmod.legacy_context() if legacy else tlsmod.inspecting_context()
    conn = await _tls_session(ctx, endpoint, result.ip, context)
    if conn is None:
        return False
    assert result.tls is not None
    tlsmod.describe_session(conn.tls_object(), result.tls)
    await conn.close()
    return True


async def _greeting(
    ctx: ProbeContext, conn: Connection, dialect: Dialect, endpoint: Endpoint, result: ProbeResult
) -> Reply:
    timer = _Timer(result, "greeting")
    read: asyncio.Future[Any] = asyncio.ensure_future(
        dialect.read_greeting(conn, ctx.deadline.remaining())
    )
    sniff: asyncio.Future[Any] | None = None
    try:
        done, _ = await asyncio.wait({read}, timeout=ctx.deadline.cap(TLS_SNIFF_AFTER))
        if not done and endpoint.security is not Security.SSL and result.ip:
            sniff = asyncio.ensure_future(_speaks_tls(ctx, endpoint, result.ip))
            done, _ = await asyncio.wait({read, sniff}, return_when=asyncio.FIRST_COMPLETED)
            if sniff in done and sniff.result():
                timer.done(False, "no greeting; the port answers TLS")
                raise _Stop(Failure.EXPECTS_IMPLICIT, "the port waits for a TLS handshake")
        reply = await read
    except ReadFailed as exc:
        timer.done(False, exc.kind)
        if exc.kind == "timeout":
            raise _Stop(Failure.NO_GREETING, "no greeting before the deadline") from None
        raise
    finally:
        for task in (read, sniff):
            if task is not None and not task.done():
                task.cancel()
    result.greeting = reply.text[:1000]
    if not reply.ok:
        timer.done(False, reply.text[:200])
        if reply.text[:1] in ("\x15", "\x16"):  # a TLS record where text was expected
            raise _Stop(Failure.EXPECTS_IMPLICIT, "the server answered with TLS")
        if reply.code:
            raise _Stop(Failure.REJECTED, reply.text[:300])
        raise _Stop(Failure.PROTOCOL_ERROR, reply.text[:300])
    timer.done(True, reply.text[:200])
    return reply


async def _speaks_tls(ctx: ProbeContext, endpoint: Endpoint, ip: str) -> bool:
    implicit = Endpoint(endpoint.protocol, endpoint.host, endpoint.port, Security.SSL)
    conn = await _tls_session(ctx, implicit, ip, tlsmod.inspecting_context())
    if conn is None:
        return False
    await conn.close()
    return True


async def _run(
    ctx: ProbeContext, endpoint: Endpoint, result: ProbeResult, *, login: Credentials | None
) -> Connection | None:
    dialect = DIALECTS[endpoint.protocol]()
    ips = await _resolve(ctx, endpoint, result)
    conn = await _connect(ctx, endpoint, ips, result)
    try:
        if endpoint.security is Security.SSL:
            await _handshake(ctx, conn, endpoint, result)
        await _greeting(ctx, conn, dialect, endpoint, result)
        timeout = ctx.deadline.cap(COMMAND_TIMEOUT)
        timer = _Timer(result, "capabilities")
        caps = await dialect.capabilities(conn, timeout)
        result.capabilities = caps
        timer.done(True, " ".join(caps)[:300])
        looked_ahead = False
        try:
            caps = await _starttls(ctx, conn, dialect, endpoint, result, caps)
        except _LookAheadDone as done:
            caps, looked_ahead = done.caps, True
        _observe_auth(dialect, endpoint, result, caps)
        if login is not None and not looked_ahead:
            await _login(ctx, conn, dialect, result, caps, login)
        # A server that hangs up on QUIT has done nothing wrong.
        with contextlib.suppress(ReadFailed):
            await dialect.quit(conn, ctx.deadline.cap(2.0))
    except BaseException:
        await conn.close()
        raise
    return conn


async def _starttls(
    ctx: ProbeContext,
    conn: Connection,
    dialect: Dialect,
    endpoint: Endpoint,
    result: ProbeResult,
    caps: list[str],
) -> list[str]:
    """Upgrade when the endpoint says STARTTLS; with `none`, look at what TLS would change."""
    if endpoint.security is Security.SSL:
        return caps
    offered = dialect.offers_starttls(caps)
    if offered:
        result.notes.add(Note.STARTTLS_OFFERED)
    if endpoint.security is Security.NONE:
        # Only to learn whether login needs TLS: a plain-text setting that can't log in is
        # the most common reason for "authentication required" with AUTH missing.
        needs_look = offered and (not dialect.mechanisms(caps) or dialect.login_disabled(caps))
        if not needs_look:
            return caps
    elif not offered:
        result.stages.append(Stage("starttls", False, 0, "not offered"))
        raise _Stop(Failure.STARTTLS_NOT_OFFERED, " ".join(caps)[:300])
    timer = _Timer(result, "starttls")
    reply = await dialect.starttls(conn, ctx.deadline.cap(COMMAND_TIMEOUT))
    if not reply.ok:
        timer.done(False, reply.text[:200])
        if endpoint.security is Security.NONE:
            return caps
        raise _Stop(Failure.STARTTLS_FAILED, reply.text[:300])
    timer.done(True, reply.text[:200])
    if conn.has_buffered_data():
        raise _Stop(Failure.PROTOCOL_ERROR, "data arrived before encryption started (injected?)")
    if endpoint.security is Security.NONE:
        # The look-ahead ends here: after this the connection would be encrypted, which is
        # not what the person's app does, so the findings speak of the plain-text channel.
        try:
            await _handshake(ctx, conn, endpoint, result)
            tls_caps = await dialect.capabilities(conn, ctx.deadline.cap(COMMAND_TIMEOUT))
        except (_Stop, ReadFailed):
            return caps
        result.capabilities_tls = tls_caps
        if dialect.mechanisms(tls_caps) and not dialect.mechanisms(caps):
            result.notes.add(Note.AUTH_REQUIRES_TLS)
        if dialect.login_disabled(caps) and not dialect.login_disabled(tls_caps):
            result.notes.add(Note.LOGIN_DISABLED)
        raise _LookAheadDone(caps)
    await _handshake(ctx, conn, endpoint, result)
    timer = _Timer(result, "capabilities")
    tls_caps = await dialect.capabilities(conn, ctx.deadline.cap(COMMAND_TIMEOUT))
    result.capabilities_tls = tls_caps
    timer.done(True, " ".join(tls_caps)[:300])
    return tls_caps


class _LookAheadDone(Exception):
    def __init__(self, caps: list[str]) -> None:
        super().__init__("look-ahead")
        self.caps = caps


def _observe_auth(
    dialect: Dialect, endpoint: Endpoint, result: ProbeResult, caps: list[str]
) -> None:
    mechanisms = dialect.mechanisms(caps)
    result.auth_mechanisms = mechanisms
    if dialect.login_disabled(caps):
        result.notes.add(Note.LOGIN_DISABLED)
    if endpoint.protocol is Protocol.SMTP and not mechanisms:
        result.notes.add(Note.AUTH_NOT_OFFERED)
    password_mechanisms = [m for m in mechanisms if m not in OAUTH_MECHANISMS]
    if mechanisms and not password_mechanisms:
        result.notes.add(Note.OAUTH_ONLY)


def classify_auth_reply(text: str) -> AuthOutcome:
    lowered = text.lower()
    if (
        "5.7.9" in lowered
        or "application-specific password" in lowered
        or "app password" in lowered
    ):
        return AuthOutcome.APP_PASSWORD_REQUIRED
    if any(
        marker in lowered
        for marker in ("5.7.139", "5.7.30", "basic authentication", "basicauthblocked", "oauth")
    ):
        return AuthOutcome.OAUTH_REQUIRED
    return AuthOutcome.FAILED


async def _login(
    ctx: ProbeContext,
    conn: Connection,
    dialect: Dialect,
    result: ProbeResult,
    caps: list[str],
    creds: Credentials,
) -> None:
    timer = _Timer(result, "auth")
    result.auth_user = creds.user
    # Never send a password over a channel that is not encrypted and verified.
    if not (conn.tls and result.tls and result.tls.verified) or Note.OAUTH_ONLY in result.notes:
        result.auth = AuthOutcome.NOT_POSSIBLE
        timer.done(False, "no encrypted, verified channel with a password mechanism")
        return
    if dialect.login_disabled(caps) or (
        dialect.protocol is Protocol.SMTP and not dialect.mechanisms(caps)
    ):
        result.auth = AuthOutcome.NOT_POSSIBLE
        timer.done(False, "no password mechanism offered")
        return
    reply = await dialect.login(
        conn, creds.user, creds.password, caps, ctx.deadline.cap(COMMAND_TIMEOUT)
    )
    result.auth_reply = reply.text.replace(creds.password, "********")[:500]
    result.auth = (
        AuthOutcome.OK if reply.ok and reply.code != "334" else classify_auth_reply(reply.text)
    )
    timer.done(result.auth is AuthOutcome.OK, result.auth_reply[:200])
