"""The test mail network: addresses, names, users and DNS records.

Everything the engine tests rely on is declared here, so the server modules only translate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DNS_IP = "127.0.0.53"

GOOD_IP = "127.0.1.1"
EXPIRED_IP = "127.0.2.1"
WRONGNAME_IP = "127.0.3.1"
SELFSIGNED_IP = "127.0.4.1"
FUTURE_IP = "127.0.5.1"
FIREWALLED_IP = "127.0.6.1"
SILENT_IP = "127.0.7.1"
WEB_IP = "127.0.8.1"
ISPDB_IP = "127.0.8.2"
REJECT_IP = "127.0.9.1"
NOAUTH_IP = "127.0.10.1"
NOTLS_IP = "127.0.11.1"
OAUTH_IP = "127.0.12.1"
LEGACY_IP = "127.0.13.1"
BROKENTLS_IP = "127.0.14.1"
# Nothing listens here in the tests; the benchmarks put a latency-adding proxy to GOOD_IP here.
SLOW_IP = "127.0.20.1"  # a certificate installed with the wrong key

ISPDB_URL = "http://ispdb.test/v1.1/"

# Names on the one valid mail host (127.0.1.1); all are SANs of its certificate.
GOOD_NAMES = (
    "mail.good.test",
    "smtp.good.test",
    "imap.good.test",
    "pop.good.test",
    "pop3.good.test",
    "mail.guess.test",
    "mx1.mailhost.test",
)
# Other hosts that present the valid CA-signed certificate.
VALID_CERT_EXTRA_NAMES = (
    "mail.reject.test",
    "mail.noauth.test",
    "mail.notls.test",
    "mail.oauth.test",
    "mail.legacy.test",
    "mail.slow.test",
)
WEB_NAMES = ("autoconfig.autoconfig.test", "wellknown.test", "autoconfig.mailhost.test")
WRONG_NAME = "server.hoster.test"

# Firewalled host: these ports are dropped silently; all others are closed (refused).
DROPPED_PORTS = (25, 587, 993)
SILENT_PORTS = (587, 465, 143, 993, 110, 995)


@dataclass(frozen=True)
class User:
    name: str
    password: str
    # Set: the right password is refused with this text (see dovecot.py for how).
    refusal_reason: str | None = None


ALICE = User("alice@good.test", "correct horse battery")
APP_PASSWORD_REASON = "Application-specific password required"
APP_USER = User("app@good.test", "normal-password", APP_PASSWORD_REASON)
USERS = (ALICE, APP_USER)


@dataclass(frozen=True)
class DnsRecords:
    hosts: list[tuple[str, str]] = field(default_factory=list)  # (name, IPv4)
    mx: list[tuple[str, str, int]] = field(default_factory=list)  # (domain, target, preference)
    srv: list[tuple[str, str, int]] = field(default_factory=list)  # (service name, target, port)
    txt: list[tuple[str, str]] = field(default_factory=list)


def dns_records() -> DnsRecords:
    r = DnsRecords()
    r.hosts.extend((name, GOOD_IP) for name in GOOD_NAMES)
    r.mx.append(("good.test", "mail.good.test", 10))
    r.txt.append(("good.test", "v=spf1 mx -all"))
    r.txt.append(("_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"))
    # Recipient-side checks: a Gmail-hosted and a carrier recipient domain, answered here so
    # nothing leaves the test network; nomx.test publishes neither SPF nor DMARC.
    r.mx.append(("gmail.com", "mail.good.test", 5))
    r.mx.append(("docomo.ne.jp", "mail.good.test", 10))
    r.mx.append(("dangling.test", "mx.nowhere.test", 10))

    # SRV-only domain (RFC 6186/8314) pointing at the good host.
    r.mx.append(("srv.test", "mail.good.test", 10))
    r.srv.extend(
        [
            ("_submission._tcp.srv.test", "mail.good.test", 587),
            ("_submissions._tcp.srv.test", "mail.good.test", 465),
            ("_imaps._tcp.srv.test", "mail.good.test", 993),
            ("_imap._tcp.srv.test", "mail.good.test", 143),
            ("_pop3s._tcp.srv.test", "mail.good.test", 995),
        ]
    )

    # Autoconfig web hosts and ISPDB.
    r.hosts.extend(
        [
            ("autoconfig.test", WEB_IP),
            ("autoconfig.autoconfig.test", WEB_IP),
            ("wellknown.test", WEB_IP),
            ("autoconfig.mailhost.test", WEB_IP),
            ("ispdb.test", ISPDB_IP),
        ]
    )
    r.mx.extend(
        [
            ("autoconfig.test", "mail.good.test", 10),
            ("wellknown.test", "mail.good.test", 10),
            ("ispdb-listed.test", "mail.good.test", 10),
            ("hosted.test", "mx1.mailhost.test", 10),
            ("mailhost.test", "mx1.mailhost.test", 10),
        ]
    )

    # A custom domain hosted by Google Workspace, recognised by its MX (the name resolves to
    # nothing here, so nothing is ever sent off the machine).
    r.mx.append(("workspace.test", "aspmx.l.google.com", 1))

    # guess.test has neither MX nor A; a TXT record makes it exist (NODATA, not NXDOMAIN).
    r.txt.append(("guess.test", "v=spf1 a:mail.guess.test -all"))
    r.hosts.append(("nomx.test", GOOD_IP))
    # Null MX (RFC 7505): preference 0, exchange "." (dnsmasq's mx-host accepts ".").
    r.mx.append(("nullmx.test", ".", 0))
    r.txt.append(("nullmx.test", "v=spf1 -all"))

    # One host per failure mode; each domain's MX points at its mail host.
    for label, ip in (
        ("expired", EXPIRED_IP),
        ("wrongname", WRONGNAME_IP),
        ("selfsigned", SELFSIGNED_IP),
        ("future", FUTURE_IP),
        ("firewalled", FIREWALLED_IP),
        ("silent", SILENT_IP),
        ("reject", REJECT_IP),
        ("noauth", NOAUTH_IP),
        ("notls", NOTLS_IP),
        ("oauth", OAUTH_IP),
        ("legacy", LEGACY_IP),
        ("brokentls", BROKENTLS_IP),
    ):
        r.hosts.append((f"mail.{label}.test", ip))
        r.mx.append((f"{label}.test", f"mail.{label}.test", 10))

    # slow.test: the good servers behind the benchmarks' latency proxy, found through SRV.
    r.hosts.append(("mail.slow.test", SLOW_IP))
    r.mx.append(("slow.test", "mail.slow.test", 10))
    r.srv.extend(
        [
            ("_submissions._tcp.slow.test", "mail.slow.test", 465),
            ("_submission._tcp.slow.test", "mail.slow.test", 587),
            ("_imaps._tcp.slow.test", "mail.slow.test", 993),
            ("_pop3s._tcp.slow.test", "mail.slow.test", 995),
        ]
    )

    # Internal addresses for the "refuse internal targets" tests; nothing listens there.
    r.hosts.extend(
        [
            ("loopback.test", "127.0.0.1"),
            ("private.test", "10.0.0.1"),
            ("linklocal.test", "169.254.169.254"),
        ]
    )
    return r
