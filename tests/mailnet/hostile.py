"""Hostile and broken servers: what real daemons cannot be made to do.

Each behaviour listens on its own loopback address (layout.py) on the standard mail ports, on one
asyncio loop in a background thread, as peers.py does. Every accepted connection is counted per
(address, port), so a test can prove what a check touched. A small DNS server answers the zones
dnsmasq forwards here: a CNAME loop (dnsmasq refuses to load one) and a name whose answer changes
after the first query (DNS rebinding).

What a hostile server sends is streamed in small chunks, so the 10 MB it sends never sits in this
process's memory: the tests measure the memory of a check in this same process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from . import layout
from .loopthread import BackgroundLoop

V6ONLY_NETWORK = "2001:db8::/32"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Starttls = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]

SESSION_LIMIT = 60.0  # seconds any one connection is served, whatever the client does
CHUNK = 64 * 1024
HEAD_LIMIT = 16 * 1024

# Bytes no mail server sends: NUL, invalid UTF-8 (a lone continuation byte, a truncated sequence,
# an overlong encoding), C1 controls and a terminal escape sequence. Not starting with a TLS
# record type (0x14-0x17), so it reads as text in the wrong protocol, not as TLS.
GARBAGE = b"\x00\xff\xfe\xc3\x28 \x00binary\x80\x81\xe2\x82 \xc0\xaf\x1b[2J\x9b garbage\x00\r\n"
# What tlsgarbage.test sends where a TLS ServerHello belongs.
TLS_GARBAGE = b"this is not TLS \x00\xff\xfe\r\n" * 8
# The first bytes of a ServerHello record (handshake, TLS 1.2, 90 bytes announced), cut short.
CUT_SERVER_HELLO = b"\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03" + b"\x42" * 8


@dataclass(frozen=True)
class Fault:
    """One hostile or broken server, and the check that meets it."""

    name: str
    what: str  # the fault, in words
    address: str
    check: dict[str, object]  # keyword arguments of tests/checks.py run_check
    code: str  # the finding that says what the server did
    absent: tuple[str, ...] = ()  # findings that would be wrong
    env: dict[str, str] = field(default_factory=dict)  # settings over the network's own


def _send_only(**kw: object) -> dict[str, object]:
    return {"receive": False, **kw}


def _receive_only(**kw: object) -> dict[str, object]:
    return {"send": False, **kw}


FAULTS: tuple[Fault, ...] = (
    Fault(
        "drip",
        "SMTP greeting sent one byte a second",
        "taro@drip.test",
        _send_only(smtp="mail.drip.test:587/starttls"),
        "net.too_slow",
    ),
    Fault(
        "drip-imap",
        "IMAP greeting sent one byte a second",
        "taro@drip.test",
        _receive_only(imap="mail.drip.test:143/starttls"),
        "net.too_slow",
    ),
    Fault(
        "hugebanner",
        "a 10 MB SMTP greeting on one line",
        "taro@hugebanner.test",
        _send_only(smtp="mail.hugebanner.test:587/starttls"),
        "net.reply_too_long",
    ),
    Fault(
        "hugebanner-pop3",
        "a 10 MB POP3 greeting on one line",
        "taro@hugebanner.test",
        _receive_only(pop3="mail.hugebanner.test:110/starttls"),
        "net.reply_too_long",
    ),
    Fault(
        "hugecaps",
        "a 10 MB EHLO capability list (10,000 lines)",
        "taro@hugecaps.test",
        _send_only(smtp="mail.hugecaps.test:587/starttls"),
        "net.reply_too_long",
    ),
    Fault(
        "hugecaps-imap",
        "a 10 MB IMAP CAPABILITY line",
        "taro@hugecaps.test",
        _receive_only(imap="mail.hugecaps.test:143/starttls"),
        "net.reply_too_long",
    ),
    Fault(
        "endless",
        "a multi-line EHLO reply that never ends",
        "taro@endless.test",
        _send_only(smtp="mail.endless.test:587/starttls"),
        "net.reply_too_long",
    ),
    Fault(
        "endless-pop3",
        "a POP3 CAPA list that never ends",
        "taro@endless.test",
        _receive_only(pop3="mail.endless.test:110/starttls"),
        "net.reply_too_long",
    ),
    Fault(
        "binary",
        "a greeting of NUL bytes, invalid UTF-8 and escape sequences",
        "taro@binary.test",
        _send_only(smtp="mail.binary.test:587/starttls"),
        "net.protocol_error",
    ),
    Fault(
        "tlsgarbage",
        "STARTTLS accepted, then garbage instead of TLS",
        "taro@tlsgarbage.test",
        _send_only(smtp="mail.tlsgarbage.test:587/starttls"),
        "tls.handshake_failed",
        absent=("tls.expects_starttls",),
    ),
    Fault(
        "tlsgarbage-imap",
        "IMAP STARTTLS accepted, then garbage instead of TLS",
        "taro@tlsgarbage.test",
        _receive_only(imap="mail.tlsgarbage.test:143/starttls"),
        "tls.handshake_failed",
        absent=("tls.expects_starttls",),
    ),
    Fault(
        "tlscut",
        "the connection closed in the middle of the TLS handshake (465)",
        "taro@tlscut.test",
        _send_only(smtp="mail.tlscut.test:465/ssl"),
        "tls.handshake_failed",
    ),
    Fault(
        "tlscut-starttls",
        "the connection closed in the middle of the TLS handshake after STARTTLS",
        "taro@tlscut.test",
        _send_only(smtp="mail.tlscut.test:587/starttls"),
        "tls.handshake_failed",
    ),
    Fault(
        "v6only",
        "a server with only an IPv6 address, and no IPv6 route",
        "taro@v6only.test",
        _send_only(smtp="mail.v6only.test:587/starttls"),
        "net.ipv6_only",
        env={"MAIL_DOCTOR_ALLOW_NETWORKS": f"127.0.0.0/8,{V6ONLY_NETWORK}"},
    ),
    Fault(
        "cnameloop",
        "a server name that is a CNAME loop",
        "taro@cnameloop.test",
        _send_only(smtp="mail.cnameloop.test:587/starttls"),
        "dns.cname_loop",
        absent=("dns.resolver_failed",),
    ),
    Fault(
        "cnameloop-domain",
        "a mail domain that is a CNAME loop",
        "taro@loop1.cnameloop.test",
        _send_only(),
        "dns.cname_loop",
        absent=("dns.resolver_failed",),
    ),
    Fault(
        "mxliteral",
        "an MX that is an IP address (192.0.2.1)",
        "taro@mxliteral.test",
        {},
        "dns.mx_is_address",
    ),
    Fault(
        "mxbracket",
        "an MX that is an address literal ([127.0.1.1])",
        "taro@mxbracket.test",
        {},
        "dns.mx_is_address",
    ),
    Fault(
        "hugetxt",
        "a TXT answer of 200 records, about 50 KB (TCP only), the SPF record last",
        "taro@hugetxt.test",
        _send_only(smtp="mail.good.test:587/starttls", recipient="friend@gmail.com"),
        "settings.ok",
        absent=("sender.no_spf", "dns.resolver_failed"),
    ),
)


class HostilePeers(BackgroundLoop):
    def __init__(self, log: Path) -> None:
        super().__init__("mailnet-hostile", log)
        self._servers: list[asyncio.Server] = []
        self._dns_transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._connections: Counter[tuple[str, int]] = Counter()
        self._dns_queries: Counter[tuple[str, str]] = Counter()
        self._rebind_answers = 0

    # --- what tests use (any thread) ---

    def connections(self, ip: str | None = None, ports: tuple[int, ...] | None = None) -> int:
        """Connections accepted so far, to `ip` (all addresses if None), on `ports` (all)."""
        with self._lock:
            return sum(
                n
                for (addr, port), n in self._connections.items()
                if (ip is None or addr == ip) and (ports is None or port in ports)
            )

    def touched(self) -> dict[tuple[str, int], int]:
        """A copy of the counts: {(address, port): connections}."""
        with self._lock:
            return dict(self._connections)

    def dns_queries(self, name: str, rdtype: str = "A") -> int:
        with self._lock:
            return self._dns_queries[(name, rdtype)]

    def clear(self) -> None:
        """Forget the counts, and make rebind.test answer its harmless address once more."""
        with self._lock:
            self._connections.clear()
            self._dns_queries.clear()
            self._rebind_answers = 0

    # --- servers (on the loop thread) ---

    async def _listen(self, handler: Handler, ip: str, port: int) -> None:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            with self._lock:
                self._connections[(ip, port)] += 1
            try:
                await asyncio.wait_for(handler(reader, writer), SESSION_LIMIT)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                pass  # the client went away, or sent something this server does not care for
            finally:
                self._tasks.discard(task)
                writer.close()

        server = await asyncio.start_server(tracked, ip, port, reuse_address=True)
        self._servers.append(server)

    async def _start_servers(self) -> None:
        await self._start_faults()
        await self._start_policy_peers()
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _DnsProtocol(self._dns_answer), local_addr=(layout.HOSTILE_DNS_IP, 53)
        )
        self._dns_transport = transport

    async def _start_faults(self) -> None:
        drip_ip, host = layout.DRIP_IP, "mail.drip.test"
        await self._listen(_drip(f"220 {host} ESMTP\r\n".encode()), drip_ip, 25)
        await self._listen(_drip(f"220 {host} ESMTP\r\n".encode()), drip_ip, 587)
        await self._listen(_drip(b"* OK IMAP4rev1 ready\r\n"), drip_ip, 143)
        await self._listen(_drip(b"+OK POP3 ready\r\n"), drip_ip, 110)

        ip = layout.HUGEBANNER_IP
        for port in (25, 587):
            await self._listen(_huge_line(b"220 mail.hugebanner.test "), ip, port)
        await self._listen(_huge_line(b"* OK "), ip, 143)
        await self._listen(_huge_line(b"+OK "), ip, 110)

        ip, host = layout.HUGECAPS_IP, "mail.hugecaps.test"
        await self._listen(_smtp(host, on_ehlo=_huge_smtp_caps), ip, 587)
        await self._listen(_imap(on_capability=_huge_imap_caps), ip, 143)
        await self._listen(_pop3(on_capa=_huge_pop3_caps), ip, 110)

        ip, host = layout.ENDLESS_IP, "mail.endless.test"
        await self._listen(_smtp(host, on_ehlo=_endless(b"250-PIPELINING\r\n")), ip, 587)
        await self._listen(_imap(on_capability=_endless(b"* CAPABILITY IMAP4rev1\r\n")), ip, 143)
        await self._listen(_pop3(on_capa=_endless(b"USER\r\n", first=b"+OK\r\n")), ip, 110)

        ip = layout.BINARY_IP
        for port in (587, 143, 110):
            await self._listen(_garbage, ip, port)
        await self._listen(_dirty_smtp, ip, 25)

        ip, host = layout.TLSGARBAGE_IP, "mail.tlsgarbage.test"
        await self._listen(_smtp(host, starttls=_then(TLS_GARBAGE)), ip, 587)
        await self._listen(_imap(starttls=_then(TLS_GARBAGE)), ip, 143)
        await self._listen(_pop3(starttls=_then(TLS_GARBAGE)), ip, 110)

        ip, host = layout.TLSCUT_IP, "mail.tlscut.test"
        for port in (465, 993, 995):
            await self._listen(_cut_handshake, ip, port)
        await self._listen(_smtp(host, starttls=_then(CUT_SERVER_HELLO, hang_up=True)), ip, 587)

    async def _start_policy_peers(self) -> None:
        # rebind.test's harmless address: plain, working servers, to be counted.
        ip = layout.REBIND_IP
        for port in (25, 587):
            await self._listen(_smtp("rebind.test"), ip, port)
        await self._listen(_imap(), ip, 143)
        await self._listen(_pop3(), ip, 110)
        for port in layout.PORTSCAN_PORTS:
            await self._listen(_say(b"SSH-2.0-OpenSSH_9.2\r\n"), layout.PORTSCAN_IP, port)
        await self._listen(_fan_web, layout.FANWEB_IP, 80)
        for n in range(1, layout.FANOUT_HOSTS + 1):
            await self._listen(_say(b"554 5.3.2 fan-out test host\r\n"), layout.fan_ip(n), 587)
            await self._listen(_say(b"* BYE fan-out test host\r\n"), layout.fan_ip(n), 143)
        for canary in (layout.CANARY_IP, "::1"):
            for port in layout.CANARY_PORTS:
                try:
                    await self._listen(_say(b""), canary, port)
                except OSError:
                    if canary == layout.CANARY_IP:
                        raise
                    break  # no IPv6 loopback in this namespace: nothing can reach ::1 either

    async def _stop_servers(self) -> None:
        for server in self._servers:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        if self._dns_transport is not None:
            self._dns_transport.close()

    # --- DNS ---

    def _dns_answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self._dns_queries[(name, rdtype)] += 1
        answer = response.answer
        loop = {"mail.cnameloop.test": "loop1", "loop1.cnameloop.test": "loop2"}
        loop["loop2.cnameloop.test"] = "loop1"
        if name == "rebind.test":
            if rdtype == "A":
                with self._lock:
                    self._rebind_answers += 1
                    first = self._rebind_answers == 1
                address = layout.REBIND_IP if first else layout.CANARY_IP
                # TTL 0: nothing on the way may keep the first answer.
                answer.append(dns.rrset.from_text(name + ".", 0, "IN", "A", address))
        elif name in loop:
            # The whole chain, as an authoritative server that follows in-zone aliases sends it:
            # mail → loop1 → loop2 → loop1 …
            current, seen = name, set()
            while current not in seen:
                seen.add(current)
                target = loop[current] + ".cnameloop.test"
                answer.append(dns.rrset.from_text(current + ".", 60, "IN", "CNAME", target + "."))
                current = target
        elif name == "cnameloop.test":
            if rdtype == "MX":
                answer.append(
                    dns.rrset.from_text(name + ".", 60, "IN", "MX", "10 mail.cnameloop.test.")
                )
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[dns.message.Message], dns.message.Message]) -> None:
        self._answer = answer
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        if self._transport is not None and query.question:
            self._transport.sendto(self._answer(query).to_wire(), addr)


# --- behaviours -----------------------------------------------------------------------------


async def _until_closed(reader: asyncio.StreamReader) -> None:
    """Keep the connection open, discarding what the client sends, until it hangs up."""
    while await reader.read(4096):
        pass


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def _drip(text: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(len(text)):
            if writer.is_closing() or reader.at_eof():
                return
            await _send(writer, text[i : i + 1])
            await asyncio.sleep(1.0)
        await _until_closed(reader)

    return handle


def _huge_line(prefix: bytes) -> Handler:
    """A greeting of HUGE_BYTES on one line."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _send(writer, prefix)
        await _stream(writer, b"x" * CHUNK, layout.HUGE_BYTES)
        await _send(writer, b"\r\n")
        await _until_closed(reader)

    return handle


async def _stream(writer: asyncio.StreamWriter, chunk: bytes, total: int | None) -> None:
    """`chunk` again and again: `total` bytes, or until the client leaves (None)."""
    sent = 0
    started = time.monotonic()
    while (total is None or sent < total) and time.monotonic() - started < SESSION_LIMIT:
        await _send(writer, chunk)
        sent += len(chunk)


def _endless(line: bytes, first: bytes = b"") -> Callable[[asyncio.StreamWriter], Awaitable[None]]:
    async def send(writer: asyncio.StreamWriter) -> None:
        if first:
            await _send(writer, first)
        await _stream(writer, line * (CHUNK // len(line)), None)

    return send


async def _huge_smtp_caps(writer: asyncio.StreamWriter) -> None:
    line = b"250-XCAP" + b"A" * 1000 + b"\r\n"
    await _send(writer, b"250-mail.hugecaps.test\r\n")
    await _stream(writer, line * (CHUNK // len(line)), layout.HUGE_BYTES)
    await _send(writer, b"250 8BITMIME\r\n")


async def _huge_imap_caps(writer: asyncio.StreamWriter) -> None:
    await _send(writer, b"* CAPABILITY IMAP4rev1")
    await _stream(writer, b" XCAP" * (CHUNK // 5), layout.HUGE_BYTES)
    await _send(writer, b"\r\n")


async def _huge_pop3_caps(writer: asyncio.StreamWriter) -> None:
    line = b"XCAP" + b"A" * 1000 + b"\r\n"
    await _send(writer, b"+OK\r\n")
    await _stream(writer, line * (CHUNK // len(line)), layout.HUGE_BYTES)
    await _send(writer, b".\r\n")


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _send(writer, GARBAGE)
    await _until_closed(reader)


async def _dirty_smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that works, with NUL bytes and invalid UTF-8 in everything it says."""
    await _send(writer, b"220 mail.binary.test \x00\xff\xfe ESMTP \xc3\x28\x1b[31m\r\n")
    while line := await reader.readline():
        verb = line.split()[0].upper() if line.split() else b""
        if verb in (b"EHLO", b"HELO"):
            await _send(
                writer,
                b"250-mail.binary.test \x00\xff\r\n250-SIZE \xfe\xfe\r\n250-8BITMIME\r\n"
                b"250 AUTH PLAIN \x00LOGIN \xc0\xaf\r\n",
            )
        elif verb == b"QUIT":
            await _send(writer, b"221 \xff bye\r\n")
            return
        else:
            await _send(writer, b"502 \x00\r\n")


def _then(data: bytes, *, hang_up: bool = False) -> Starttls:
    """After the STARTTLS go-ahead: wait for the client's first TLS bytes, answer `data`."""

    async def after(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, go: bytes) -> None:
        await _send(writer, go)
        await reader.read(4096)  # the ClientHello, or what arrived of it
        await _send(writer, data)
        if not hang_up:
            await _until_closed(reader)

    return after


async def _cut_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)  # the ClientHello
    await _send(writer, CUT_SERVER_HELLO)
    # The handler's return closes the connection: in the middle of the ServerHello.


def _say(text: bytes) -> Handler:
    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if text:
            await _send(writer, text)

    return handle


def _smtp(
    host: str,
    *,
    on_ehlo: Callable[[asyncio.StreamWriter], Awaitable[None]] | None = None,
    starttls: Starttls | None = None,
) -> Handler:
    caps = [host, "PIPELINING", "AUTH PLAIN LOGIN"] + (["STARTTLS"] if starttls else [])
    ehlo = "".join(f"250-{c}\r\n" for c in caps[:-1]) + f"250 {caps[-1]}\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _send(writer, f"220 {host} ESMTP\r\n".encode())
        while line := await reader.readline():
            verb = line.split()[0].upper() if line.split() else b""
            if verb in (b"EHLO", b"HELO"):
                await (on_ehlo(writer) if on_ehlo else _send(writer, ehlo.encode()))
            elif verb == b"STARTTLS" and starttls:
                await starttls(reader, writer, b"220 2.0.0 Ready to start TLS\r\n")
                return
            elif verb == b"QUIT":
                await _send(writer, b"221 2.0.0 Bye\r\n")
                return
            else:
                await _send(writer, b"502 5.5.1 Not here\r\n")

    return handle


def _imap(
    *,
    on_capability: Callable[[asyncio.StreamWriter], Awaitable[None]] | None = None,
    starttls: Starttls | None = None,
) -> Handler:
    caps = "IMAP4rev1 AUTH=PLAIN" + (" STARTTLS LOGINDISABLED" if starttls else "")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _send(writer, b"* OK IMAP4rev1 ready\r\n")
        while line := await reader.readline():
            words = line.split()
            tag, verb = [*words, b"", b""][:2]
            if verb.upper() == b"CAPABILITY":
                if on_capability:
                    await on_capability(writer)
                await _send(writer, f"* CAPABILITY {caps}\r\n".encode() + tag + b" OK done\r\n")
            elif verb.upper() == b"STARTTLS" and starttls:
                await starttls(reader, writer, tag + b" OK Begin TLS now\r\n")
                return
            elif verb.upper() == b"LOGOUT":
                await _send(writer, b"* BYE\r\n" + tag + b" OK bye\r\n")
                return
            else:
                await _send(writer, tag + b" BAD not here\r\n")

    return handle


def _pop3(
    *,
    on_capa: Callable[[asyncio.StreamWriter], Awaitable[None]] | None = None,
    starttls: Starttls | None = None,
) -> Handler:
    caps = b"STLS\r\nSASL PLAIN\r\n" if starttls else b"USER\r\nSASL PLAIN\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _send(writer, b"+OK POP3 ready\r\n")
        while line := await reader.readline():
            verb = line.split()[0].upper() if line.split() else b""
            if verb == b"CAPA":
                await (on_capa(writer) if on_capa else _send(writer, b"+OK\r\n" + caps + b".\r\n"))
            elif verb == b"STLS" and starttls:
                await starttls(reader, writer, b"+OK Begin TLS\r\n")
                return
            elif verb == b"QUIT":
                await _send(writer, b"+OK bye\r\n")
                return
            else:
                await _send(writer, b"-ERR not here\r\n")

    return handle


# --- autoconfig files that name too many servers, or ports that are not mail ports ---------


def _config(domain: str, servers: list[tuple[str, str, int]]) -> bytes:
    """config-v1.1.xml listing (type, host, port) servers, all with STARTTLS."""
    parts = [f'<?xml version="1.0"?>\n<clientConfig version="1.1"><emailProvider id="{domain}">']
    parts.append(f"<domain>{domain}</domain>")
    for kind, host, port in servers:
        tag = "outgoingServer" if kind == "smtp" else "incomingServer"
        parts.append(
            f'<{tag} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
            "<socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username>"
            f"<authentication>password-cleartext</authentication></{tag}>"
        )
    parts.append("</emailProvider></clientConfig>\n")
    return "\n".join(parts).encode()


def _fan_routes() -> dict[tuple[str, str], tuple[int, bytes, str]]:
    fan = [layout.fan_host(n) for n in range(1, layout.FANOUT_HOSTS + 1)]
    servers = [("smtp", h, 587) for h in fan] + [("imap", h, 143) for h in fan]
    scan = [("smtp", "mail.portscan.test", p) for p in (22, 3306, 6379, 8080, 80)]
    scan += [("imap", "mail.portscan.test", p) for p in (443, 11211)]
    path = "/mail/config-v1.1.xml"
    redirect = "http://mail.portscan.test:6379/mail/config-v1.1.xml"
    return {
        ("autoconfig.fanout.test", path): (200, _config("fanout.test", servers), ""),
        ("autoconfig.portscan.test", path): (200, _config("portscan.test", scan), ""),
        ("portscan.test", "/.well-known/autoconfig" + path): (302, b"", redirect),
    }


FAN_ROUTES = _fan_routes()


async def _fan_web(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > HEAD_LIMIT:
        return
    lines = head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 2 else "/"
    host = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            host = value.strip().lower().rsplit(":", 1)[0]
    status, body, location = FAN_ROUTES.get((host, target.split("?", 1)[0]), (404, b"", ""))
    reason = {200: "OK", 302: "Found", 404: "Not Found"}[status]
    extra = f"Location: {location}\r\n" if location else ""
    await _send(
        writer,
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body,
    )
