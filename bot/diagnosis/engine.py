"""One check of one address: discovery and every probe, concurrently, under one deadline.

Probes start the moment their endpoint is known — the person's own settings and the built-in
provider settings at once, the rest as DNS and autoconfig answer — so the whole check takes about
as long as its slowest probe, and a silently dropped port costs the deadline once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.addresses import MailAddress, UserSetting
from bot.config import Settings
from bot.diagnosis.rules import derive_findings
from bot.discovery.autoconfig import domain_urls, ispdb_url, parse_config
from bot.discovery.candidates import Candidate, Source
from bot.discovery.guess import guesses
from bot.discovery.mxdomain import mx_domains
from bot.discovery.srv import srv_candidates
from bot.knowledge.providers import Provider, ProviderDB, load_providers
from bot.model import Endpoint, Finding, Protocol, Security
from bot.probes.dns import DnsClient, DnsStatus, MxResult
from bot.probes.http import HttpFailed, http_get
from bot.probes.result import Failure, Note, ProbeResult
from bot.probes.runner import Credentials, ProbeContext, probe
from bot.probes.transport import Deadline

MAX_ENDPOINTS = 40  # one check touches a bounded number of endpoints
GUESS_STAGGER = 0.05  # seconds between guessed probes, so a guess burst is not a port scan

_SILENT = frozenset(
    {Failure.REFUSED, Failure.TIMEOUT, Failure.UNREACHABLE, Failure.DEADLINE, Failure.NO_GREETING}
)

Progress = Callable[[str, dict[str, object]], None]


@dataclass
class CheckRequest:
    address: MailAddress
    protocols: frozenset[Protocol]
    user: dict[Protocol, UserSetting] = field(default_factory=dict)
    timeout: float = 10.0
    password: str | None = None

    def ordered_protocols(self) -> list[Protocol]:
        """Sending first, then receiving: the order of the troubleshooting path."""
        return [p for p in Protocol if p in self.protocols]

    def __repr__(self) -> str:  # keeps the password out of logs and tracebacks
        return f"CheckRequest({self.address.address!r}, {self.ordered_protocols()})"


@dataclass
class Recommendation:
    candidate: Candidate
    result: ProbeResult

    @property
    def source(self) -> Source:
        return self.candidate.source


@dataclass
class Report:
    request: CheckRequest
    provider: Provider | None
    mx: MxResult
    recommended: dict[Protocol, Recommendation | None]
    user_results: dict[Protocol, ProbeResult]
    results: list[ProbeResult]
    findings: list[Finding]
    elapsed_ms: int

    @property
    def has_error(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


class Check:
    def __init__(
        self,
        request: CheckRequest,
        settings: Settings,
        progress: Progress | None = None,
        providers: ProviderDB | None = None,
    ) -> None:
        self.request = request
        self.providers = providers or load_providers()
        self.settings = settings
        self.progress = progress or (lambda event, data: None)
        self.deadline = Deadline(request.timeout)
        self.dns = DnsClient(settings.dns_servers)
        credentials = (
            Credentials(request.address.address, request.password) if request.password else None
        )
        self.ctx = ProbeContext(self.dns, settings, self.deadline, credentials)
        self.domain = request.address.domain
        self._probes: dict[Endpoint, asyncio.Task[ProbeResult]] = {}
        self._candidates: list[Candidate] = []
        self.provider: Provider | None = None
        self._mx_domains_done: set[str] = set()

    # -- probes ---------------------------------------------------------------------------

    def _start_probe(self, endpoint: Endpoint, *, login: bool = False) -> None:
        if endpoint in self._probes or len(self._probes) >= MAX_ENDPOINTS:
            return
        if endpoint.protocol not in self.request.protocols:
            return
        self.progress("probe_started", {"endpoint": endpoint})
        task = asyncio.ensure_future(probe(self.ctx, endpoint, login=login))
        task.add_done_callback(lambda t: self._probe_done(t))
        self._probes[endpoint] = task

    def _probe_done(self, task: asyncio.Task[ProbeResult]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.progress("probe_done", {"result": task.result()})

    def _add(self, candidates: Iterable[Candidate]) -> None:
        for candidate in candidates:
            if candidate.endpoint.protocol not in self.request.protocols:
                continue
            if candidate.endpoint.security is Security.NONE:
                continue  # plain text is never recommended
            self._candidates.append(candidate)
            self._start_probe(candidate.endpoint, login=self._login_wanted(candidate.endpoint))

    def _login_wanted(self, endpoint: Endpoint) -> bool:
        user = self.request.user.get(endpoint.protocol)
        # Log in once per protocol: on the person's own setting, or else on the first candidate.
        if user is not None:
            return user.endpoint() == endpoint
        return not any(c.endpoint.protocol == endpoint.protocol for c in self._candidates[:-1])

    # -- discovery sources ----------------------------------------------------------------

    def _provider_candidates(self, provider: Provider, detail: str) -> list[Candidate]:
        found: list[Candidate] = []
        for protocol in self.request.protocols:
            for server in provider.servers_for(protocol):
                host = server.host or server.host_for(self.domain)
                if not host:
                    continue  # a host that differs per account: the person must tell us
                endpoint = Endpoint(protocol, host, server.port, server.security)
                found.append(Candidate(endpoint, Source.PROVIDER, detail))
        return found

    async def _fetch_config(self, url: str, source: Source, timeout: float) -> list[Candidate]:
        try:
            response = await http_get(
                url, dns=self.dns, settings=self.settings, deadline=self.deadline, timeout=timeout
            )
        except HttpFailed:
            return []
        if response.status != 200:
            return []
        self.progress("config_found", {"url": url})
        return parse_config(response.body, source, url.split("?", 1)[0])

    async def _autoconfig(self) -> None:
        urls = domain_urls(self.domain, self.request.address.address)
        results = await asyncio.gather(
            *(self._fetch_config(u, Source.AUTOCONFIG, 5.0) for u in urls)
        )
        # The first location in Thunderbird's order that answered wins.
        for found in results:
            if found:
                self._add(found)
                return

    async def _ispdb(self, domain: str, source: Source) -> None:
        self._add(await self._fetch_config(ispdb_url(self.settings.ispdb_url, domain), source, 8.0))

    async def _srv(self) -> None:
        self._add(await srv_candidates(self.dns, self.domain, set(self.request.protocols)))

    async def _mx(self) -> MxResult:
        mx = await self.dns.mx(self.domain)
        host = mx.primary
        if host is None:
            return mx
        if self.provider is None:
            provider = self.providers.by_mx(host)
            if provider is not None:
                self.provider = provider
                self._add(self._provider_candidates(provider, f"mx {host}"))
        fetches = []
        for domain in mx_domains(host, self.domain):
            if domain in self._mx_domains_done:
                continue
            self._mx_domains_done.add(domain)
            url = f"https://autoconfig.{domain}/mail/config-v1.1.xml"
            fetches.append(self._fetch_config(url, Source.MX, 5.0))
            fetches.append(
                self._fetch_config(ispdb_url(self.settings.ispdb_url, domain), Source.MX, 8.0)
            )
        for found in await asyncio.gather(*fetches):
            self._add(found)
        return mx

    def _guess(self, mx: MxResult) -> None:
        """Only for protocols no source knew anything about, as Thunderbird does."""
        if mx.status is DnsStatus.NXDOMAIN:
            return
        delay = 0.0
        for protocol in self.request.ordered_protocols():
            if any(c.endpoint.protocol == protocol for c in self._candidates):
                continue
            user = self.request.user.get(protocol)
            domain_guesses = guesses(self.domain, protocol)
            if user is not None:
                # A host the person typed replaces the guessed host names (Thunderbird does too).
                domain_guesses = [
                    Candidate(
                        Endpoint(protocol, user.host, c.endpoint.port, c.endpoint.security),
                        Source.GUESS,
                    )
                    for c in domain_guesses
                    if c.endpoint.host == f"mail.{self.domain}"
                ]
            for candidate in domain_guesses:
                self._candidates.append(candidate)
                asyncio.get_running_loop().call_later(delay, self._start_probe, candidate.endpoint)
                delay += GUESS_STAGGER

    # -- the check --------------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.monotonic()
        for protocol, setting in self.request.user.items():
            if protocol in self.request.protocols:
                self._start_probe(setting.endpoint(), login=True)
        self.provider = self.providers.by_domain(self.domain)
        if self.provider is not None:
            self._add(self._provider_candidates(self.provider, "domain"))
        self.progress("discovery_started", {"domain": self.domain})
        mx_task = asyncio.ensure_future(self._mx())
        sources = [mx_task, self._autoconfig(), self._ispdb(self.domain, Source.ISPDB), self._srv()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*sources), self.deadline.remaining())
        mx = (
            mx_task.result()
            if mx_task.done() and not mx_task.cancelled()
            else MxResult(DnsStatus.FAILED, detail="timeout")
        )
        self._guess(mx)
        await asyncio.sleep(0)  # let the staggered guesses register
        results = await self._wait_probes()
        recommended = {p: self._recommend(p) for p in self.request.ordered_protocols()}
        user_results = {
            p: self._result_for(s.endpoint())
            for p, s in self.request.user.items()
            if p in self.request.protocols
        }
        report = Report(
            request=self.request,
            provider=self.provider,
            mx=mx,
            recommended=recommended,
            user_results={p: r for p, r in user_results.items() if r is not None},
            results=results,
            findings=[],
            elapsed_ms=0,
        )
        report.findings = derive_findings(report, self._subjects(report))
        report.elapsed_ms = int((time.monotonic() - started) * 1000)
        return report

    async def _wait_probes(self) -> list[ProbeResult]:
        # Staggered guesses may still be arriving; wait until no new probe appears.
        while True:
            pending = [t for t in self._probes.values() if not t.done()]
            if not pending:
                if self._guesses_outstanding():
                    await asyncio.sleep(GUESS_STAGGER)
                    continue
                break
            await asyncio.wait(pending, timeout=self.deadline.remaining() + 1.0)
            if self.deadline.remaining() <= 0 and any(not t.done() for t in self._probes.values()):
                break
        results: list[ProbeResult] = []
        for endpoint, task in self._probes.items():
            if task.done() and not task.cancelled() and task.exception() is None:
                result = task.result()
            else:
                task.cancel()
                result = ProbeResult(endpoint, failure=Failure.DEADLINE, detail="deadline")
            result.sources = self._sources_of(endpoint)
            results.append(result)
        return results

    def _guesses_outstanding(self) -> bool:
        return self.deadline.remaining() > 0 and any(
            c.endpoint not in self._probes
            for c in self._candidates
            if c.source is Source.GUESS and len(self._probes) < MAX_ENDPOINTS
        )

    def _sources_of(self, endpoint: Endpoint) -> list[str]:
        words = sorted({c.source for c in self._candidates if c.endpoint == endpoint})
        user = any(s.endpoint() == endpoint for s in self.request.user.values())
        return (["user"] if user else []) + [s.word for s in words]

    def _result_for(self, endpoint: Endpoint) -> ProbeResult | None:
        task = self._probes.get(endpoint)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def _recommend(self, protocol: Protocol) -> Recommendation | None:
        best: tuple[tuple[int, int, int], Recommendation] | None = None
        for index, candidate in enumerate(self._candidates):
            if candidate.endpoint.protocol != protocol:
                continue
            result = self._result_for(candidate.endpoint)
            if result is None or not result.ok:
                continue
            unusable = Note.LOGIN_DISABLED in result.notes or (
                protocol is Protocol.SMTP and Note.AUTH_NOT_OFFERED in result.notes
            )
            rank = (int(unusable), int(candidate.source), index)
            if best is None or rank < best[0]:
                best = (rank, Recommendation(candidate, result))
        if best is None or best[0][0]:
            return None
        return best[1]

    def _subjects(self, report: Report) -> dict[Protocol, list[ProbeResult]]:
        """The probes whose problems are the person's problems, per protocol.

        The person's own setting when given; otherwise, when nothing could be recommended, the
        most trusted source's candidates (the server itself is broken, not the settings).
        """
        subjects: dict[Protocol, list[ProbeResult]] = {}
        for protocol in self.request.ordered_protocols():
            if protocol in report.user_results:
                subjects[protocol] = [report.user_results[protocol]]
                continue
            if report.recommended.get(protocol) is not None:
                continue
            receiving = {Protocol.IMAP, Protocol.POP3}
            if protocol in receiving and any(
                report.recommended.get(other) for other in receiving - {protocol}
            ):
                continue  # mail can be received the other way; nothing to fix here
            candidates = [c for c in self._candidates if c.endpoint.protocol == protocol]
            if not candidates:
                continue
            top = min(c.source for c in candidates)
            found = [self._result_for(c.endpoint) for c in candidates if c.source == top]
            results = [r for r in found if r is not None]
            if top is Source.GUESS:
                # A guessed name that does not exist or does not answer is no fault of anyone;
                # a server that answered and then failed (an expired certificate) is.
                results = [r for r in results if r.ip is not None and r.failure not in _SILENT]
            subjects[protocol] = results
        return subjects
