"""Thunderbird autoconfig (config-v1.1.xml) documents served by the test web hosts."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Server:
    kind: str  # "imap", "pop3" or "smtp"
    hostname: str
    port: int
    socket_type: str  # "SSL", "STARTTLS" or "plain"


def config_xml(domain: str, servers: list[Server]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{escape(domain)}">',
        f"    <domain>{escape(domain)}</domain>",
        f"    <displayName>{escape(domain)} test mail</displayName>",
        f"    <displayShortName>{escape(domain)}</displayShortName>",
    ]
    for s in servers:
        tag = "outgoingServer" if s.kind == "smtp" else "incomingServer"
        parts += [
            f'    <{tag} type="{s.kind}">',
            f"      <hostname>{escape(s.hostname)}</hostname>",
            f"      <port>{s.port}</port>",
            f"      <socketType>{s.socket_type}</socketType>",
            "      <authentication>password-cleartext</authentication>",
            "      <username>%EMAILADDRESS%</username>",
            f"    </{tag}>",
        ]
    parts += ["  </emailProvider>", "</clientConfig>", ""]
    return "\n".join(parts).encode()


GOOD = "mail.good.test"
_SSL_ALL = [
    Server("imap", GOOD, 993, "SSL"),
    Server("pop3", GOOD, 995, "SSL"),
    Server("smtp", GOOD, 465, "SSL"),
]
_STARTTLS = [
    Server("imap", GOOD, 143, "STARTTLS"),
    Server("pop3", GOOD, 995, "SSL"),
    Server("smtp", GOOD, 587, "STARTTLS"),
]
_SSL_IMAP_SMTP = [Server("imap", GOOD, 993, "SSL"), Server("smtp", GOOD, 465, "SSL")]

# (Host header, path) -> document, for the autoconfig web host (127.0.8.1, ports 80 and 443).
AUTOCONFIG_ROUTES: dict[tuple[str, str], bytes] = {
    ("autoconfig.autoconfig.test", "/mail/config-v1.1.xml"): config_xml(
        "autoconfig.test", _SSL_ALL
    ),
    ("wellknown.test", "/.well-known/autoconfig/mail/config-v1.1.xml"): config_xml(
        "wellknown.test", _STARTTLS
    ),
    ("autoconfig.mailhost.test", "/mail/config-v1.1.xml"): config_xml(
        "mailhost.test", _SSL_IMAP_SMTP
    ),
}

# Path -> document, for the ISPDB-like host (127.0.8.2, port 80), whatever the Host header.
ISPDB_ROUTES: dict[str, bytes] = {
    "/v1.1/ispdb-listed.test": config_xml("ispdb-listed.test", _SSL_IMAP_SMTP),
}
