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

# Hostile and broken servers (hostile.py). All of them live in HOSTILE_NETWORK, so a test can
# allow exactly that network and leave 127.0.0.1, where the "internal service" canary listens,
# internal.
HOSTILE_NETWORK = "127.0.64.0/18"
DRIP_IP = "127.0.64.1"  # sends its greeting one byte a second
HUGEBANNER_IP = "127.0.64.2"  # a 10 MB greeting on one line
HUGECAPS_IP = "127.0.64.3"  # a 10 MB capability list
ENDLESS_IP = "127.0.64.4"  # a multi-line capability reply that never ends
BINARY_IP = "127.0.64.5"  # NUL bytes and invalid UTF-8
TLSGARBAGE_IP = "127.0.64.6"  # agrees to STARTTLS, then sends garbage instead of TLS
TLSCUT_IP = "127.0.64.7"  # hangs up in the middle of the TLS handshake
REBIND_IP = "127.0.64.9"  # what rebind.test resolves to the first time only
PORTSCAN_IP = "127.0.64.10"  # listens on ports that are not mail ports
FANWEB_IP = "127.0.64.20"  # autoconfig files that list dozens of servers
HOSTILE_DNS_IP = "127.0.64.53"  # a DNS server for what dnsmasq will not serve
V6ONLY_IP = "2001:db8::25"  # no route to it inside the test namespace
CANARY_IP = "127.0.0.1"  # an internal service: no probe may ever reach it
FANOUT_HOSTS = 60  # fan01.fanout.test … fan60.fanout.test
HUGE_BYTES = 10 * 1024 * 1024
DRIP_PORTS = (25, 587, 143, 110)
TLSCUT_PORTS = (465, 993, 995, 587)
PORTSCAN_PORTS = (22, 80, 443, 3306, 6379, 8080)
CANARY_PORTS = (25, 465, 587, 143, 993, 110, 995, 2525, 80, 443)
# Zones dnsmasq forwards to HOSTILE_DNS_IP: a CNAME loop (dnsmasq refuses to load one) and a
# name whose answer changes after the first query (DNS rebinding).
HOSTILE_DNS_ZONES = ("cnameloop.test", "rebind.test")


def fan_ip(n: int) -> str:
    return f"127.0.100.{n}"


def fan_host(n: int) -> str:
    return f"fan{n:02d}.fanout.test"


# Names that resolve to addresses no probe may touch unless MAIL_DOCTOR_ALLOW_NETWORKS says so.
INTERNAL_NAMES = {
    "loopback6.test": "::1",
    "ula.test": "fc00::25",
    "linklocal6.test": "fe80::25",
    "mapped.test": "::ffff:10.0.0.1",
    "unspecified.test": "0.0.0.0",
    "cgnat.test": "100.64.0.25",
    "multicast.test": "224.0.0.25",
    "sixtofour.test": "2002:a00:1::25",  # 6to4: the site behind 10.0.0.1
    "broadcast.test": "255.255.255.255",
}

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
    hosts: list[tuple[str, str]] = field(default_factory=list)  # (name, IPv4 or IPv6)
    mx: list[tuple[str, str, int]] = field(default_factory=list)  # (domain, target, preference)
    srv: list[tuple[str, str, int]] = field(default_factory=list)  # (service name, target, port)
    txt: list[tuple[str, str]] = field(default_factory=list)
    forward: list[tuple[str, str]] = field(default_factory=list)  # (zone, DNS server IP)


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
    hostile_records(r)
    return r


def hostile_records(r: DnsRecords) -> None:
    """The names of hostile.py's servers, and of the DNS faults."""
    for label, ip in (
        ("drip", DRIP_IP),
        ("hugebanner", HUGEBANNER_IP),
        ("hugecaps", HUGECAPS_IP),
        ("endless", ENDLESS_IP),
        ("binary", BINARY_IP),
        ("tlsgarbage", TLSGARBAGE_IP),
        ("tlscut", TLSCUT_IP),
        ("portscan", PORTSCAN_IP),
        ("v6only", V6ONLY_IP),  # AAAA only
    ):
        r.hosts.append((f"mail.{label}.test", ip))
        r.mx.append((f"{label}.test", f"mail.{label}.test", 10))
    r.hosts.extend(INTERNAL_NAMES.items())
    # A public-looking name with a harmless address and an internal one: only the first may be
    # dialled.
    r.hosts.extend([("mixed.test", REBIND_IP), ("mixed.test", "::1")])
    # MX records that are IP addresses, which RFC 5321 does not allow.
    r.mx.append(("mxliteral.test", "192.0.2.1", 10))
    r.mx.append(("mxbracket.test", "[127.0.1.1]", 10))
    # A TXT answer of about 50 KB (TCP only) with the SPF record last of 200.
    r.mx.append(("hugetxt.test", "mail.good.test", 10))
    r.txt.append(("hugetxt.test", "v=spf1 mx -all"))  # dnsmasq answers in reverse order
    r.txt.extend(("hugetxt.test", f"junk-{i:03d} " + "x" * 230) for i in range(199))
    r.txt.append(("_dmarc.hugetxt.test", "v=DMARC1; p=none"))
    # A domain whose autoconfig file and SRV records name dozens of servers.
    r.hosts.extend((fan_host(n), fan_ip(n)) for n in range(1, FANOUT_HOSTS + 1))
    r.hosts.extend([("autoconfig.fanout.test", FANWEB_IP), ("autoconfig.portscan.test", FANWEB_IP)])
    r.hosts.append(("portscan.test", FANWEB_IP))
    r.mx.append(("fanout.test", fan_host(1), 10))
    for service, port, first in (("_submission._tcp", 587, 41), ("_imap._tcp", 143, 51)):
        name = f"{service}.fanout.test"
        r.srv.extend((name, fan_host(n), port) for n in range(first, first + 10))
    r.forward.extend((zone, HOSTILE_DNS_IP) for zone in HOSTILE_DNS_ZONES)
