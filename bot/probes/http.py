"""A small HTTP GET for autoconfig files, on the probes' own policy-checked connections.

Autoconfig hosts are named by the domain a stranger typed, so the fetch goes through the same
address policy, deadline and read caps as every mail probe.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bot.config import Settings
from bot.netpolicy import PolicyRefused
from bot.probes import tls as tlsmod
from bot.probes.dns import DnsClient, DnsError
from bot.probes.transport import ConnectFailed, Deadline, ReadFailed, open_tcp

MAX_BODY = 128 * 1024
MAX_REDIRECTS = 3
USER_AGENT = "mail-doctor/0.1"


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    body: bytes


class HttpFailed(Exception):
    pass


async def http_get(
    url: str, *, dns: DnsClient, settings: Settings, deadline: Deadline, timeout: float = 5.0
) -> HttpResponse:
    """GET `url`, following redirects (never from https down to http)."""
    for _ in range(MAX_REDIRECTS + 1):
        response = await _get_once(url, dns, settings, deadline, timeout)
        if response.status in (301, 302, 303, 307, 308) and response.body:
            target = urljoin(url, response.body.decode("latin-1"))
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise HttpFailed("redirect from https to http refused")
            url = target
            continue
        return response
    raise HttpFailed("too many redirects")


async def _get_once(
    url: str, dns: DnsClient, settings: Settings, deadline: Deadline, timeout: float
) -> HttpResponse:
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError:
        raise HttpFailed("not a usable URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpFailed(f"not an http(s) URL: {url[:100]}")
    https = parts.scheme == "https"
    port = explicit_port or (443 if https else 80)
    within = Deadline(deadline.cap(timeout))
    try:
        ips = await dns.addresses(parts.hostname)
        conn = await open_tcp(
            ips,
            port,
            settings.allow_networks,
            within.remaining(),
            http=True,
            budget=dns.budget,
        )
    except (DnsError, PolicyRefused, ConnectFailed) as exc:
        raise HttpFailed(str(exc)) from None
    try:
        if https:
            context = tlsmod.verifying_context(settings.ca_file)
            await conn.start_tls(context, parts.hostname, within.remaining())
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # HTTP/1.0: the server closes after the body, so no chunked encoding to undo.
        request = (
            f"GET {path} HTTP/1.0\r\nHost: {parts.netloc}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: application/xml, text/xml\r\nConnection: close\r\n"
        )
        await conn.send(request, within.remaining())
        status_line = await conn.readline(within.remaining())
        words = status_line.split(" ", 2)
        if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
            raise HttpFailed(f"not an HTTP response: {status_line[:80]!r}")
        status = int(words[1])
        location = b""
        while True:
            header = await conn.readline(within.remaining())
            if not header:
                break
            name, _, value = header.partition(":")
            if name.strip().lower() == "location":
                location = value.strip().encode("latin-1", "replace")
        if status in (301, 302, 303, 307, 308):
            return HttpResponse(url, status, location)
        body = b""
        while len(body) <= MAX_BODY:
            chunk = await conn.read_bytes(16384, within.remaining())
            if not chunk:
                break
            body += chunk
        if len(body) > MAX_BODY:
            raise HttpFailed(f"response larger than {MAX_BODY} bytes")
        return HttpResponse(url, status, body)
    except (ReadFailed, ssl.SSLError, TimeoutError, ConnectionError, OSError) as exc:
        raise HttpFailed(f"{type(exc).__name__}: {exc}"[:200]) from None
    finally:
        await conn.close()
