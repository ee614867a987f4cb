"""Thunderbird autoconfig files (config-v1.1.xml): where to fetch them and how to read them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bot.addresses import InputError, normalize_host
from bot.discovery.candidates import Candidate, Source
from bot.model import Endpoint, Protocol, Security

_SOCKET_TYPES = {"SSL": Security.SSL, "STARTTLS": Security.STARTTLS, "PLAIN": Security.NONE}
_SERVER_TYPES = {"smtp": Protocol.SMTP, "imap": Protocol.IMAP, "pop3": Protocol.POP3}
_USERNAMES = {"%EMAILADDRESS%": "address", "%EMAILLOCALPART%": "localpart"}


def mx_domain_url(domain: str) -> str:
    """For a domain learned from an MX host: https only, no .well-known (as Thunderbird)."""
    return f"https://autoconfig.{domain}/mail/config-v1.1.xml"


def domain_urls(domain: str, address: str) -> list[str]:
    """The domain's own locations, https before http (hosters often serve only http)."""
    query = f"?emailaddress={address}"
    paths = [
        f"autoconfig.{domain}/mail/config-v1.1.xml{query}",
        f"{domain}/.well-known/autoconfig/mail/config-v1.1.xml{query}",
    ]
    return [f"https://{p}" for p in paths] + [f"http://{p}" for p in paths]


def ispdb_url(base: str, domain: str) -> str:
    return base.rstrip("/") + "/" + domain


def parse_config(xml: bytes, source: Source, detail: str) -> list[Candidate]:
    """Candidates from a config-v1.1.xml, in the file's order; [] for anything unreadable."""
    try:
        text = xml.decode("utf-8")  # config files are UTF-8; anything else is not one
    except UnicodeDecodeError:
        return []
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return []  # no document type definitions: nothing legitimate needs them here
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except (ET.ParseError, ValueError, LookupError):
        return []
    candidates: list[Candidate] = []
    for server in root.iter():
        if server.tag not in ("incomingServer", "outgoingServer"):
            continue
        protocol = _SERVER_TYPES.get((server.get("type") or "").lower())
        security = _SOCKET_TYPES.get((server.findtext("socketType") or "").strip().upper())
        host_text = (server.findtext("hostname") or "").strip()
        port_text = (server.findtext("port") or "").strip()
        if protocol is None or security is None or not port_text.isdigit():
            continue
        port = int(port_text)
        if not 0 < port < 65536 or "%" in host_text:
            continue
        try:
            host = normalize_host(host_text)
        except InputError:
            continue
        username = _USERNAMES.get((server.findtext("username") or "").strip())
        candidates.append(
            Candidate(Endpoint(protocol, host, port, security), source, detail, username)
        )
    return candidates
