"""Helpers for the tests that run whole checks against the test mail network."""

from __future__ import annotations

from bot.addresses import parse_address, parse_spec
from bot.config import Settings
from bot.diagnosis.engine import Check, CheckRequest, Report
from bot.knowledge.providers import ProviderDB
from bot.model import Finding, Protocol


async def run_check(
    address: str,
    *,
    send: bool = True,
    receive: bool = True,
    smtp: str | None = None,
    imap: str | None = None,
    pop3: str | None = None,
    timeout: float = 6.0,
    password: str | None = None,
    settings: Settings | None = None,
    providers: ProviderDB | None = None,
    recipient: str | None = None,
) -> Report:
    protocols: set[Protocol] = set()
    if send:
        protocols.add(Protocol.SMTP)
    if receive:
        protocols |= {Protocol.IMAP, Protocol.POP3}
    user = {}
    for protocol, spec in ((Protocol.SMTP, smtp), (Protocol.IMAP, imap), (Protocol.POP3, pop3)):
        if spec:
            user[protocol] = parse_spec(spec, protocol)
            protocols.add(protocol)
    request = CheckRequest(
        parse_address(address),
        frozenset(protocols),
        user,
        timeout,
        password,
        parse_address(recipient) if recipient else None,
    )
    check = Check(request, settings or Settings.from_env(), providers=providers)
    return await check.run()


def codes(report: Report) -> set[str]:
    return {f.code for f in report.findings}


def finding(report: Report, code: str) -> Finding:
    matches = [f for f in report.findings if f.code == code]
    assert matches, f"{code} not in {[f.code for f in report.findings]}"
    return matches[0]


def recommended(report: Report, protocol: Protocol) -> tuple[str, int, str, str] | None:
    rec = report.recommended.get(protocol)
    if rec is None:
        return None
    e = rec.result.endpoint
    return (e.host, e.port, str(e.security), rec.source.word)
