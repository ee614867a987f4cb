"""TCP connections and line reading for probes, each step bounded in time and in bytes.

A probe talks to servers a stranger named, so every connect is checked against the network
policy (the address actually dialled, not only the name), every read is capped, every wait ends
at the check's deadline, and one check dials a bounded number of addresses and connections.

The address that is checked is the address that is dialled: `open_tcp` takes IP addresses, never
names, and connects with AI_NUMERICHOST so nothing resolves a name again between the policy check
and the connect (a DNS answer that changes in between cannot reach an internal address); and
when the kernel connected somewhere else (0.0.0.0 reaches this host), the policy is applied to
the peer address as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field

from bot.config import IPNetwork
from bot.netpolicy import PolicyRefused, check_address, check_port

MAX_LINE = 8192  # bytes in one protocol line
# C0/C1 controls (NUL, escape sequences) and the bidirectional overrides that reorder text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_CONNECTION_READ = 1024 * 1024  # bytes read from one connection in all
HAPPY_EYEBALLS_DELAY = 0.25
ADDRESSES_PER_CONNECT = 4  # addresses one connect tries (Happy Eyeballs), of however many
# One check touches at most this many distinct addresses and opens at most this many TCP
# connections (mail probes, TLS look-aheads and autoconfig fetches together). A normal check
# of a domain uses well under half of each.
MAX_ADDRESSES_PER_CHECK = 32
MAX_CONNECTIONS_PER_CHECK = 96


class Deadline:
    """One point in time every step of a check must finish by."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def cap(self, seconds: float) -> float:
        return min(seconds, self.remaining())


@dataclass
class ConnectionBudget:
    """What one check may still dial. Every connect attempt takes one connection; a new
    address also takes one of the addresses. Refused beyond either limit."""

    max_connections: int = MAX_CONNECTIONS_PER_CHECK
    max_addresses: int = MAX_ADDRESSES_PER_CHECK
    connections: int = 0
    addresses: set[str] = field(default_factory=set)
    refused: int = 0  # attempts refused by this budget

    def take(self, ip: str) -> bool:
        new = ip not in self.addresses
        if self.connections >= self.max_connections or (
            new and len(self.addresses) >= self.max_addresses
        ):
            self.refused += 1
            return False
        self.connections += 1
        self.addresses.add(ip)
        return True


class ConnectFailed(Exception):
    """`kind` is refused | timeout | unreachable | error."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind} {detail}".strip())
        self.kind = kind
        self.detail = detail
        self.ipv6_only = False  # unreachable, and every address tried was IPv6
        self.tried: list[str] = []  # the addresses dialled


class ReadFailed(Exception):
    """`kind` is timeout | slow | closed | too_long.

    `slow`: the time ran out while a reply had begun to arrive (a server that drips its
    answer); `timeout`: nothing of the reply had arrived."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind} {detail}".strip())
        self.kind = kind
        self.detail = detail


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


async def _connect_one(
    ip: str, port: int, allow: tuple[IPNetwork, ...]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # AI_NUMERICHOST: `ip` is the checked address itself; nothing may resolve it again.
    reader, writer = await asyncio.open_connection(
        ip, port, limit=MAX_LINE, flags=socket.AI_NUMERICHOST
    )
    # The policy once more, on the address the kernel actually connected to (0.0.0.0 is
    # this host: connecting there reaches 127.0.0.1).
    peer = writer.get_extra_info("peername")
    if not peer or not _same_address(str(peer[0]), ip):
        try:
            check_target(str(peer[0]) if peer else ip, allow)
        except BaseException:
            writer.transport.abort()
            raise
    return reader, writer


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b.split("%", 1)[0])
    except ValueError:
        return False


def check_target(ip: str, allow: tuple[IPNetwork, ...]) -> None:
    """The network policy for one address, including the IPv4 address a 6to4 address
    (2002::/16) leads to: 2002:0a00:0001:: is the 6to4 site behind 10.0.0.1.

    Raises ValueError for anything that is not an IP address: names are never dialled."""
    check_address(ip, allow)
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        try:
            check_address(str(address.sixtofour), allow)
        except PolicyRefused:
            raise PolicyRefused("internal_address", ip) from None


async def open_tcp(
    ips: list[str],
    port: int,
    allow: tuple[IPNetwork, ...],
    timeout: float,
    *,
    http: bool = False,
    budget: ConnectionBudget | None = None,
) -> Connection:
    """Connect to the first of `ips` that answers; start a new try every 250 ms (RFC 8305).

    `ips` are IP addresses (never names): each is checked against the policy and dialled as is.
    """
    check_port(port, http=http)
    allowed: list[str] = []
    refused: PolicyRefused | None = None
    for ip in ips:
        try:
            check_target(ip, allow)
            allowed.append(ip)
        except PolicyRefused as exc:
            refused = exc
    if not allowed:
        assert refused is not None
        raise refused
    allowed = allowed[:ADDRESSES_PER_CONNECT]
    started = time.monotonic()
    tasks: dict[asyncio.Task[tuple[asyncio.StreamReader, asyncio.StreamWriter]], str] = {}
    errors: list[ConnectFailed] = []
    after_connect: list[PolicyRefused] = []  # connected somewhere the policy refuses
    pending_ips = list(allowed)
    tried: list[str] = []
    try:
        while pending_ips or tasks:
            if pending_ips:
                ip = pending_ips.pop(0)
                if budget is not None and not budget.take(ip):
                    if not tasks and not pending_ips and not tried:
                        raise PolicyRefused("connection_limit", ip)
                    continue
                tried.append(ip)
                tasks[asyncio.ensure_future(_connect_one(ip, port, allow))] = ip
            if not tasks:
                continue
            wait = HAPPY_EYEBALLS_DELAY if pending_ips else None
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                break
            done, _ = await asyncio.wait(
                tasks,
                timeout=min(wait, left) if wait else left,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                ip = tasks.pop(task)
                error = task.exception()
                if error is None:
                    reader, writer = task.result()
                    return Connection(reader, writer, ip, port)
                if isinstance(error, PolicyRefused):
                    after_connect.append(error)
                    continue
                errors.append(_classify_connect_error(error))
            if not done and not pending_ips:
                break  # the whole budget is spent
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            # Close a socket that connected just as we gave up on it.
            task.add_done_callback(_close_if_connected)
    if after_connect and not errors:
        raise after_connect[0]
    if len(errors) + len(after_connect) < len(tried):
        errors.append(ConnectFailed("timeout", f"no answer within {timeout:.1f} s"))
    order = {"refused": 0, "unreachable": 2, "error": 3, "timeout": 1}
    worst = min(errors, key=lambda e: order.get(e.kind, 9))
    worst.tried = tried
    # Every address is IPv6 and none has a route: this network has no IPv6.
    worst.ipv6_only = worst.kind == "unreachable" and all(":" in ip for ip in tried)
    raise worst


def _close_if_connected(
    task: asyncio.Task[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result()[1].close()


def _classify_connect_error(exc: BaseException) -> ConnectFailed:
    if isinstance(exc, ConnectionRefusedError):
        return ConnectFailed("refused", "connection refused")
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return ConnectFailed("unreachable", exc.strerror or "")
    if isinstance(exc, TimeoutError):
        return ConnectFailed("timeout", "")
    return ConnectFailed("error", f"{type(exc).__name__}: {exc}"[:200])


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ip: str
    port: int
    read_total: int = 0
    tls: bool = False
    broken: bool = False

    async def readline(self, timeout: float) -> str:
        """One line without its CRLF, decoded leniently (servers send all kinds of bytes).

        At most MAX_LINE bytes are buffered for one line and MAX_CONNECTION_READ read from the
        connection in all, whatever the server sends."""
        try:
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
        except TimeoutError:
            partial = self.buffered()
            if partial:
                raise ReadFailed(
                    "slow", f"{partial} bytes of a line arrived in {timeout:.1f} s"
                ) from None
            raise ReadFailed("timeout") from None
        except (asyncio.LimitOverrunError, ValueError):
            raise ReadFailed("too_long", f"a line longer than {MAX_LINE} bytes") from None
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise ReadFailed("closed", type(exc).__name__) from None
        if not raw:
            raise ReadFailed("closed", "the server closed the connection")
        self.read_total += len(raw)
        if self.read_total > MAX_CONNECTION_READ:
            raise ReadFailed("too_long", f"more than {MAX_CONNECTION_READ} bytes")
        # Control characters (escape sequences, NUL) from a server never reach a terminal.
        return _CONTROL.sub("", raw.rstrip(b"\r\n").decode("utf-8", "replace"))

    async def read_bytes(self, n: int, timeout: float) -> bytes:
        """Up to `n` bytes (b"" at the end), within the connection's MAX_CONNECTION_READ."""
        n = min(n, MAX_CONNECTION_READ - self.read_total + 1)
        try:
            data = await asyncio.wait_for(self.reader.read(n), timeout)
        except TimeoutError:
            raise ReadFailed("timeout") from None
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise ReadFailed("closed", type(exc).__name__) from None
        self.read_total += len(data)
        if self.read_total > MAX_CONNECTION_READ:
            raise ReadFailed("too_long", f"more than {MAX_CONNECTION_READ} bytes")
        return data

    async def send(self, line: str, timeout: float) -> None:
        try:
            self.writer.write(line.encode("utf-8") + b"\r\n")
            await asyncio.wait_for(self.writer.drain(), timeout)
        except TimeoutError:
            raise ReadFailed("timeout", "sending") from None
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise ReadFailed("closed", type(exc).__name__) from None

    def buffered(self) -> int:
        """Bytes already read but not consumed (part of a line, or what follows it)."""
        return len(self.reader._buffer)  # type: ignore[attr-defined]  # no public accessor

    def has_buffered_data(self) -> bool:
        """Bytes already read but not consumed. After a STARTTLS go-ahead there must be none:
        anything there came before encryption and could be injected by someone on the path."""
        return self.buffered() > 0

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str, timeout: float
    ) -> None:
        """Upgrade in place; raises ssl errors, TimeoutError or ConnectionError."""
        timeout = max(timeout, 0.1)
        try:
            # Our own wait_for fires first, so a slow handshake is a TimeoutError and not
            # asyncio's ConnectionAbortedError, which would read as "the server hung up".
            await asyncio.wait_for(
                self.writer.start_tls(
                    context, server_hostname=server_hostname, ssl_handshake_timeout=timeout + 5
                ),
                timeout,
            )
        except BaseException:
            self.broken = True
            raise
        self.tls = True

    def tls_object(self) -> ssl.SSLObject | None:
        obj = self.writer.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None

    async def close(self) -> None:
        if self.broken:
            self.writer.transport.abort()  # a half-done handshake has nothing to close politely
            return
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError):
            await asyncio.wait_for(self.writer.wait_closed(), 0.5)
