"""One check of one address: discovery and every probe, concurrently, under one deadline.

Probes start the moment their endpoint is known — the person's own settings and the built-in
provider settings at once, the rest as DNS and autoconfig answer — so the whole check takes about
as long as its slowest probe, and a silently dropped port costs the deadline once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.addresses import MailAddress, UserSetting
from bot.config import Settings
from bot.diagnosis.recipient import recipient_findings
from bot.diagnosis.rules import derive_findings, sort_findings
from bot.discovery.autoconfig import domain_urls, ispdb_url, mx_domain_url, parse_config
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

log = logging.getLogger(__name__)

MAX_ENDPOINTS = 40  # one check touches a bounded number of endpoints
GUESS_STAGGER = 0.05  # seconds between guessed probes, so a guess burst is not a port scan
GUESS_AFTER = 3.0  # guess for a protocol no source has answered for by then
WAIT_GRACE = 0.5  # seconds past the deadline for probes to report their own timeout

Progress = Callable[[str, dict[str, object]], None]


@dataclass
class CheckRequest:
    address: MailAddress
    protocols: frozenset[Protocol]
    user: dict[Protocol, UserSetting] = field(default_factory=dict)
    timeout: float = 10.0
    password: str | None = None
    recipient: MailAddress | None = None  # 「相手に届かない」: whose domain to check

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
    login_results: dict[Protocol, ProbeResult] = field(default_factory=dict)

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
        self.ctx = ProbeContext(self.dns, settings, self.deadline)
        self.domain = request.address.domain
        self.provider: Provider | None = None
        self._probes: dict[Endpoint, asyncio.Task[ProbeResult]] = {}
        self._results: dict[Endpoint, ProbeResult] = {}
        self._candidates: list[Candidate] = []
        self._mx = MxResult(DnsStatus.FAILED, detail="not looked up")
        self._sources_done = asyncio.Event()

    # -- probes ---------------------------------------------------------------------------

    def _start_probe(self, endpoint: Endpoint, login: Credentials | None = None) -> None:
        if endpoint in self._probes or len(self._probes) >= MAX_ENDPOINTS:
            return
        if endpoint.protocol not in self.request.protocols:
            return
        self.progress("probe_started", {"endpoint": endpoint})
        task = asyncio.ensure_future(probe(self.ctx, endpoint, login=login))
        task.add_done_callback(self._probe_done)
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
            self._start_probe(candidate.endpoint)

    def _credentials(self, protocol: Protocol, candidate: Candidate | None) -> Credentials | None:
        """The user name the account logs in with: the source's rule, else the address."""
        if self.request.password is None:
            return None
        rule = candidate.username if candidate else None
        if rule is None and self.provider is not None:
            servers = self.provider.servers_for(protocol)
            rule = servers[0].username if servers and servers[0].username else None
        address = self.request.address
        user = address.local_part if rule == "localpart" else address.address
        return Credentials(user, self.request.password)

    # -- discovery sources ----------------------------------------------------------------

    def _provider_candidates(self, provider: Provider, detail: str) -> list[Candidate]:
        found: list[Candidate] = []
        for protocol in self.request.ordered_protocols():
            for server in provider.servers_for(protocol):
                host = server.host or server.host_for(self.domain)
                if not host:
                    continue  # a host that differs per account: the person must tell us
                endpoint = Endpoint(protocol, host, server.port, server.security)
                username = str(server.username) if server.username else None
                found.append(Candidate(endpoint, Source.PROVIDER, detail, username))
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
        fetches = [self._fetch_config(u, Source.AUTOCONFIG, 5.0) for u in urls]
        for done in asyncio.as_completed(fetches):
            self._add(await done)  # each location's servers are probed as soon as they arrive

    async def _ispdb(self, domain: str, source: Source) -> None:
        self._add(await self._fetch_config(ispdb_url(self.settings.ispdb_url, domain), source, 8.0))

    async def _srv(self) -> None:
        self._add(await srv_candidates(self.dns, self.domain, set(self.request.protocols)))

    async def _mx_lookup(self) -> None:
        self._mx = await self.dns.mx(self.domain)
        host = self._mx.primary
        if host is None:
            return
        if self.provider is None:
            provider = self.providers.by_mx(host)
            if provider is not None:
                self.provider = provider
                self._add(self._provider_candidates(provider, f"mx {host}"))
        fetches = []
        for domain in mx_domains(host, self.domain):
            fetches.append(self._fetch_config(mx_domain_url(domain), Source.MX, 5.0))
            fetches.append(
                self._fetch_config(ispdb_url(self.settings.ispdb_url, domain), Source.MX, 8.0)
            )
        for done in asyncio.as_completed(fetches):
            self._add(await done)

    async def _source(self, work: Awaitable[None], name: str) -> None:
        """A source that fails for any reason found nothing; the check goes on."""
        try:
            await work
        except Exception:
            log.warning("discovery source %s failed", name, exc_info=True)

    async def _guess_when_due(self) -> None:
        """Guess, as Thunderbird does, only for protocols no source knew anything about —
        once every source has answered, or GUESS_AFTER seconds in, whichever is first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sources_done.wait(), GUESS_AFTER)
        if self._mx.status is DnsStatus.NXDOMAIN:
            return
        for protocol in self.request.ordered_protocols():
            if any(c.endpoint.protocol == protocol for c in self._candidates):
                continue
            user = self.request.user.get(protocol)
            found = guesses(self.domain, protocol)
            if user is not None:
                # A host the person typed replaces the guessed host names (Thunderbird does too).
                found = [
                    Candidate(
                        Endpoint(protocol, user.host, c.endpoint.port, c.endpoint.security),
                        Source.GUESS,
                    )
                    for c in found
                    if c.endpoint.host == f"mail.{self.domain}"
                ]
            for candidate in found:
                self._candidates.append(candidate)
                self._start_probe(candidate.endpoint)
                await asyncio.sleep(GUESS_STAGGER)

    # -- the check --------------------------------------------------------------------------

    async def run(self) -> Report:
        started = time.monotonic()
        for protocol, setting in self.request.user.items():
            if protocol in self.request.protocols:
                self._start_probe(setting.endpoint(), login=self._credentials(protocol, None))
        self.provider = self.providers.by_domain(self.domain)
        if self.provider is not None:
            self._add(self._provider_candidates(self.provider, "domain"))
        self.progress("discovery_started", {"domain": self.domain})
        sources = asyncio.gather(
            self._source(self._mx_lookup(), "mx"),
            self._source(self._autoconfig(), "autoconfig"),
            self._source(self._ispdb(self.domain, Source.ISPDB), "ispdb"),
            self._source(self._srv(), "srv"),
        )
        sources.add_done_callback(lambda _: self._sources_done.set())
        guessing = asyncio.ensure_future(self._guess_when_due())
        recipient = asyncio.ensure_future(self._recipient())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(sources), self.deadline.remaining())
            await self._wait_probes(guessing)
        finally:
            for task in (sources, guessing):
                task.cancel()
            await asyncio.gather(sources, guessing, return_exceptions=True)
        recommended = {p: self._recommend(p) for p in self.request.ordered_protocols()}
        login_results = await self._login_recommended(recommended)
        user_results = {
            p: self._results[s.endpoint()]
            for p, s in self.request.user.items()
            if p in self.request.protocols and s.endpoint() in self._results
        }
        report = Report(
            request=self.request,
            provider=self.provider,
            mx=self._mx,
            recommended=recommended,
            user_results=user_results,
            results=list(self._results.values()),
            findings=[],
            elapsed_ms=0,
            login_results=login_results,
        )
        report.findings = derive_findings(report, self._subjects(report))
        if self.request.recipient is not None:
            # Asked about the recipient's side: its findings lead within each severity.
            report.findings = sort_findings(await recipient + report.findings)
        report.elapsed_ms = int((time.monotonic() - started) * 1000)
        return report

    async def _wait_probes(self, guessing: asyncio.Future[None]) -> None:
        # Probes end themselves at the deadline and report why; the grace lets them say it.
        end = time.monotonic() + self.deadline.remaining() + WAIT_GRACE
        while time.monotonic() < end:
            pending = [t for t in self._probes.values() if not t.done()]
            if not pending and guessing.done():
                break
            waiting: list[asyncio.Future[object]] = [*pending, guessing]  # type: ignore[list-item]
            await asyncio.wait(
                waiting, timeout=end - time.monotonic(), return_when=asyncio.FIRST_COMPLETED
            )
        # Whatever still runs has had its time: stop it, and let it finish stopping.
        leftovers = [t for t in self._probes.values() if not t.done()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        for endpoint, task in self._probes.items():
            if task.cancelled() or task.exception() is not None:
                result = ProbeResult(endpoint, failure=Failure.DEADLINE, detail="deadline")
            else:
                result = task.result()
            result.sources = self._sources_of(endpoint)
            self._results[endpoint] = result

    async def _recipient(self) -> list[Finding]:
        if self.request.recipient is None:
            return []
        try:
            return await recipient_findings(
                self.dns, self.request.address, self.request.recipient, self.providers
            )
        except Exception:
            log.warning("recipient checks failed", exc_info=True)
            return []

    def _sources_of(self, endpoint: Endpoint) -> list[str]:
        words = sorted({c.source for c in self._candidates if c.endpoint == endpoint})
        user = any(s.endpoint() == endpoint for s in self.request.user.values())
        return (["user"] if user else []) + [s.word for s in words]

    def _recommend(self, protocol: Protocol) -> Recommendation | None:
        best: tuple[tuple[int, int, int, int], Recommendation] | None = None
        for index, candidate in enumerate(self._candidates):
            if candidate.endpoint.protocol != protocol:
                continue
            result = self._results.get(candidate.endpoint)
            if result is None or not result.ok:
                continue
            unusable = Note.LOGIN_DISABLED in result.notes or (
                protocol is Protocol.SMTP and Note.AUTH_NOT_OFFERED in result.notes
            )
            # Port 25 is for servers talking to servers; most Japanese ISPs block it (OP25B).
            port25 = int(protocol is Protocol.SMTP and candidate.endpoint.port == 25)
            rank = (int(unusable), port25, int(candidate.source), index)
            if best is None or rank < best[0]:
                best = (rank, Recommendation(candidate, result))
        if best is None or best[0][0]:
            return None
        return best[1]

    def _trusted_for_login(self, candidate: Candidate) -> bool:
        """A password goes only where the domain itself, or our own data, points."""
        host = candidate.endpoint.host
        in_domain = host == self.domain or host.endswith("." + self.domain)
        if candidate.source is Source.PROVIDER:
            return True
        if candidate.source in (Source.AUTOCONFIG, Source.ISPDB, Source.MX):
            return candidate.detail.startswith("https://") or in_domain
        return in_domain  # SRV and guesses: only inside the mail domain (RFC 6186 §6)

    async def _login_recommended(
        self, recommended: dict[Protocol, Recommendation | None]
    ) -> dict[Protocol, ProbeResult]:
        """With a password and no setting of the person's own, log in where we recommend."""
        if self.request.password is None:
            return {}
        logins: dict[Protocol, asyncio.Task[ProbeResult]] = {}
        context = ProbeContext(self.dns, self.settings, Deadline(self.request.timeout))
        for protocol, rec in recommended.items():
            if rec is None or protocol in self.request.user:
                continue
            if not self._trusted_for_login(rec.candidate):
                continue
            creds = self._credentials(protocol, rec.candidate)
            logins[protocol] = asyncio.ensure_future(
                probe(context, rec.result.endpoint, login=creds)
            )
        done = await asyncio.gather(*logins.values())
        return dict(zip(logins, done, strict=True))

    def _subjects(self, report: Report) -> dict[Protocol, list[ProbeResult]]:
        """The probes whose problems are the person's problems, per protocol.

        The person's own setting when given; otherwise, when nothing could be recommended, the
        most trusted source's candidates (the server itself is broken, not the settings).
        """
        subjects: dict[Protocol, list[ProbeResult]] = {}
        receiving = {Protocol.IMAP, Protocol.POP3}
        for protocol in self.request.ordered_protocols():
            if protocol in report.user_results:
                subjects[protocol] = [report.user_results[protocol]]
                continue
            if report.recommended.get(protocol) is not None:
                continue
            if protocol in receiving and (
                any(report.recommended.get(other) for other in receiving - {protocol})
                or receiving & set(report.user_results)
            ):
                continue  # they receive the other way, or it works the other way
            candidates = [c for c in self._candidates if c.endpoint.protocol == protocol]
            if not candidates:
                subjects[protocol] = []
                continue
            top = min(c.source for c in candidates)
            found = [self._results.get(c.endpoint) for c in candidates if c.source == top]
            results = [r for r in found if r is not None]
            if top is Source.GUESS:
                # A guessed name or port that is not there says nothing (settings.not_found
                # covers "nothing works"); a server that answered and then failed does.
                results = [
                    r for r in results if r.ip is not None or r.failure is Failure.NO_GREETING
                ]
            subjects[protocol] = results
        return subjects
