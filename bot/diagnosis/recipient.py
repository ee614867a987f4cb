"""「相手に届かない」: checks of the recipient's domain and of what it asks of senders.

Run from mail-doctor's own network, never the person's: DNS of the recipient domain (exists,
MX, null MX, MX hosts that resolve), the sender domain's SPF and DMARC, what large receivers
require of senders since 2024 (Gmail, Yahoo), and the Japanese carriers' filters.
"""

from __future__ import annotations

import asyncio

from bot.addresses import MailAddress, is_ip_literal
from bot.knowledge.providers import ProviderDB
from bot.knowledge.typos import suggest_domain
from bot.model import Finding, Severity
from bot.probes.dns import DnsClient, DnsError, DnsStatus

# Receivers that reject unauthenticated senders (Gmail and Yahoo sender rules, 2024-02-01).
STRICT_RECEIVERS = frozenset({"gmail", "google_workspace", "yahoo", "yahoo_japan", "aol"})
# Japanese mobile carriers whose filters drop PC mail silently (mail-facts §7.3).
CARRIER_DOMAINS = {
    "docomo.ne.jp": "docomo",
    "ezweb.ne.jp": "au",
    "au.com": "au",
    "softbank.ne.jp": "softbank",
    "i.softbank.jp": "softbank",
    "ymobile.ne.jp": "softbank",
}


def _finding(code: str, severity: Severity, **params: object) -> Finding:
    return Finding(code=code, severity=severity, params=dict(params))


async def recipient_findings(
    dns: DnsClient, sender: MailAddress, recipient: MailAddress, providers: ProviderDB
) -> list[Finding]:
    domain = recipient.domain
    mx, spf_texts, dmarc_texts = await asyncio.gather(
        dns.mx(domain), dns.txt(sender.domain), dns.txt(f"_dmarc.{sender.domain}")
    )
    found: list[Finding] = []
    if mx.status is DnsStatus.NXDOMAIN:
        suggestion = suggest_domain(domain)
        found.append(
            Finding(
                "recipient.domain_not_found",
                Severity.ERROR,
                params={"domain": domain},
                suggestion=suggestion,
            )
        )
        return found
    if mx.status is DnsStatus.FAILED:
        found.append(
            _finding("dns.resolver_failed", Severity.ERROR, domain=domain, detail=mx.detail)
        )
        return found
    if mx.null_mx:
        found.append(_finding("recipient.null_mx", Severity.ERROR, domain=domain))
        return found
    if not mx.records:
        found.append(_finding("recipient.no_mail_exchanger", Severity.WARNING, domain=domain))
    else:
        named = [r.host for r in mx.records if r.host]
        literal = [h for h in named if is_ip_literal(h.strip("[]"))]
        hosts = [h for h in named if h not in literal][:3]
        answers = await asyncio.gather(*(dns.addresses(h) for h in hosts), return_exceptions=True)
        if literal and not hosts:
            # RFC 5321 5.1: an MX names a host; senders' servers refuse an address there.
            found.append(
                _finding("recipient.mx_is_address", Severity.ERROR, domain=domain, host=literal[0])
            )
        elif all(isinstance(a, DnsError) for a in answers):
            found.append(
                _finding(
                    "recipient.mx_host_not_found",
                    Severity.ERROR,
                    domain=domain,
                    host=hosts[0] if hosts else "",
                )
            )
    provider = providers.by_domain(domain) or (providers.by_mx(mx.primary) if mx.primary else None)
    strict = provider is not None and provider.id in STRICT_RECEIVERS
    receiver = provider.name_en if provider else domain
    params = {
        "domain": sender.domain,
        "receiver": receiver,
        "receiver_ja": provider.name_ja if provider else domain,
    }
    spf = [t for t in spf_texts if t.lower().startswith("v=spf1")]
    if not spf:
        found.append(
            _finding("sender.no_spf", Severity.ERROR if strict else Severity.WARNING, **params)
        )
    elif any(t.split()[-1] in ("+all", "all") for t in spf):
        found.append(_finding("sender.spf_allows_anyone", Severity.WARNING, **params))
    dmarc = [t for t in dmarc_texts if t.lower().startswith("v=dmarc1")]
    if not dmarc:
        found.append(
            _finding("sender.no_dmarc", Severity.WARNING if strict else Severity.INFO, **params)
        )
    carrier = CARRIER_DOMAINS.get(domain)
    if carrier:
        found.append(
            _finding("recipient.carrier_filter", Severity.WARNING, domain=domain, carrier=carrier)
        )
    return found
