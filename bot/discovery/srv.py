"""RFC 6186 and RFC 8314 SRV records: the domain names its own mail servers."""

from __future__ import annotations

import asyncio

from bot.discovery.candidates import Candidate, Source
from bot.model import Endpoint, Protocol, Security
from bot.probes.dns import DnsClient

SERVICES: tuple[tuple[str, Protocol, Security], ...] = (
    ("_submissions._tcp", Protocol.SMTP, Security.SSL),
    ("_submission._tcp", Protocol.SMTP, Security.STARTTLS),
    ("_imaps._tcp", Protocol.IMAP, Security.SSL),
    ("_imap._tcp", Protocol.IMAP, Security.STARTTLS),
    ("_pop3s._tcp", Protocol.POP3, Security.SSL),
    ("_pop3._tcp", Protocol.POP3, Security.STARTTLS),
)


async def srv_candidates(dns: DnsClient, domain: str, protocols: set[Protocol]) -> list[Candidate]:
    wanted = [s for s in SERVICES if s[1] in protocols]
    answers = await asyncio.gather(*(dns.srv(f"{name}.{domain}") for name, _, _ in wanted))
    found: list[Candidate] = []
    for (name, protocol, security), records in zip(wanted, answers, strict=True):
        for record in records[:3]:
            endpoint = Endpoint(protocol, record.target, record.port, security)
            found.append(Candidate(endpoint, Source.SRV, f"{name}.{domain}"))
    return found
