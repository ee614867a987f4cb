"""DNS lookups for one check: MX, A/AAAA, SRV, with a per-check cache.

Every lookup of a check goes through one DnsClient, so probes that need the same name share one
query instead of asking again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from bot.addresses import is_ip_literal
from bot.probes.transport import ConnectionBudget

T = TypeVar("T")

LOOKUP_LIFETIME = 4.0  # seconds for one name, across all servers and retries
CNAME_LOOP = "CNAME loop"  # the detail of a DnsError whose name's CNAME chain loops
MAX_TXT = 4096  # characters kept of one TXT record (its strings joined)


class DnsStatus(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, but has no record of that type
    FAILED = "failed"  # no usable answer: timeout, SERVFAIL, refused


class DnsError(Exception):
    def __init__(self, status: DnsStatus, name: str, detail: str = "") -> None:
        super().__init__(f"{status}: {name} {detail}".strip())
        self.status = status
        self.name = name
        self.detail = detail


@dataclass(frozen=True)
class MxRecord:
    preference: int
    host: str  # "" for a null MX (RFC 7505: "0 .")


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class MxResult:
    status: DnsStatus
    records: tuple[MxRecord, ...] = ()
    detail: str = ""

    @property
    def null_mx(self) -> bool:
        return any(r.host == "" for r in self.records)

    @property
    def primary(self) -> str | None:
        hosts = [r.host for r in self.records if r.host]
        return hosts[0] if hosts else None


def make_resolver(servers: tuple[str, ...]) -> dns.asyncresolver.Resolver:
    if servers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = list(servers)
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            # No /etc/resolv.conf: every lookup fails, and says so as a finding.
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    resolver.lifetime = LOOKUP_LIFETIME
    resolver.timeout = 2.0
    return resolver


def _chain_too_long(exc: BaseException) -> bool:
    """dnspython gives up on a CNAME chain of more than 16 links (a loop never ends)."""
    if isinstance(exc, dns.message.ChainTooLong):
        return True
    errors = getattr(exc, "kwargs", {}).get("errors") or []
    return any(len(e) > 3 and isinstance(e[3], dns.message.ChainTooLong) for e in errors)


class DnsClient:
    """One check's lookups, each name and type asked once (so every connection of the check
    to one name goes to the addresses of one answer), and the check's connection budget: this
    is the one object every part of a check shares, probes, autoconfig fetches and logins."""

    def __init__(self, servers: tuple[str, ...] = (), lifetime: float = LOOKUP_LIFETIME) -> None:
        self._resolver = make_resolver(servers)
        self._lifetime = lifetime
        self._cache: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self.budget = ConnectionBudget()

    async def _cached(self, key: tuple[str, str], make: Callable[[], Awaitable[T]]) -> T:
        future = self._cache.get(key)
        if future is None:
            future = asyncio.ensure_future(make())
            self._cache[key] = future
        # shield: one caller's cancellation must not cancel the lookup another caller awaits
        result: T = await asyncio.shield(future)
        return result

    async def _query(self, name: str, rdtype: str) -> list[Any]:
        try:
            answer = await self._resolver.resolve(
                name, rdtype, lifetime=self._lifetime, search=False
            )
        except dns.resolver.NXDOMAIN:
            raise DnsError(DnsStatus.NXDOMAIN, name) from None
        except dns.resolver.NoAnswer:
            raise DnsError(DnsStatus.NODATA, name) from None
        except dns.resolver.NoNameservers as exc:
            if _chain_too_long(exc):
                raise DnsError(DnsStatus.FAILED, name, CNAME_LOOP) from None
            raise DnsError(DnsStatus.FAILED, name, "no name server answered") from exc
        except dns.exception.Timeout:
            raise DnsError(DnsStatus.FAILED, name, "timeout") from None
        except (dns.exception.DNSException, ValueError) as exc:
            if _chain_too_long(exc):
                raise DnsError(DnsStatus.FAILED, name, CNAME_LOOP) from None
            raise DnsError(DnsStatus.FAILED, name, type(exc).__name__) from None
        return list(answer)

    async def mx(self, domain: str) -> MxResult:
        return await self._cached(("MX", domain), lambda: self._mx(domain))

    async def _mx(self, domain: str) -> MxResult:
        try:
            rdatas = await self._query(domain, "MX")
        except DnsError as exc:
            return MxResult(exc.status, detail=exc.detail)
        records = sorted(
            (
                # The root name "." is a null MX (RFC 7505); it is kept as "".
                MxRecord(
                    int(r.preference), r.exchange.to_text(omit_final_dot=True).lower().strip(".")
                )
                for r in rdatas
            ),
            key=lambda r: (r.preference, r.host),
        )
        return MxResult(DnsStatus.OK, tuple(records))

    async def addresses(self, host: str) -> list[str]:
        """A and AAAA of `host` (IPv4 first); raises DnsError when there are none."""
        if is_ip_literal(host):
            return [host]
        return await self._cached(("ADDR", host), lambda: self._addresses(host))

    async def _addresses(self, host: str) -> list[str]:
        answers: tuple[list[Any] | BaseException, ...] = await asyncio.gather(
            self._query(host, "A"), self._query(host, "AAAA"), return_exceptions=True
        )
        found: list[str] = []
        for result in answers:
            if isinstance(result, list):
                found.extend(r.to_text() for r in result)
        if found:
            return found
        errors = [r for r in answers if isinstance(r, DnsError)]
        if any(e.status is DnsStatus.FAILED for e in errors):
            raise next(e for e in errors if e.status is DnsStatus.FAILED)
        if any(e.status is DnsStatus.NXDOMAIN for e in errors):
            raise DnsError(DnsStatus.NXDOMAIN, host)
        raise DnsError(DnsStatus.NODATA, host)

    async def txt(self, name: str) -> list[str]:
        """TXT strings of `name` (each record's parts joined); [] when there are none."""
        return await self._cached(("TXT", name), lambda: self._txt(name))

    async def _txt(self, name: str) -> list[str]:
        try:
            rdatas = await self._query(name, "TXT")
        except DnsError:
            return []
        # Every record is kept (an SPF record may come last among many), each cut at MAX_TXT:
        # the answer itself is at most one 64 KB DNS message, so this is bounded too.
        texts = (b"".join(r.strings)[: MAX_TXT * 4] for r in rdatas)
        return [t.decode("utf-8", "replace")[:MAX_TXT] for t in texts]

    async def srv(self, name: str) -> list[SrvRecord]:
        """SRV records sorted by priority then weight (highest first); [] when none."""
        return await self._cached(("SRV", name), lambda: self._srv(name))

    async def _srv(self, name: str) -> list[SrvRecord]:
        try:
            rdatas = await self._query(name, "SRV")
        except DnsError:
            return []
        records = [
            SrvRecord(
                int(r.priority),
                int(r.weight),
                int(r.port),
                r.target.to_text(omit_final_dot=True).lower(),
            )
            for r in rdatas
        ]
        # RFC 2782: a target of "." means the service is decidedly not available.
        return sorted(
            (r for r in records if r.target not in ("", ".")),
            key=lambda r: (r.priority, -r.weight),
        )
