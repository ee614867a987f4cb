"""TCP connections and line reading for probes, each step bounded in time and in bytes.

A probe talks to servers a stranger named, so every connect is checked against the network
policy (the address actually dialled, not only the name), every read is capped, and every wait
ends at the check's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import ssl
import time
from dataclasses import dataclass

from bot.config import IPNetwork
from bot.netpolicy import PolicyRefused, check_address, check_port

MAX_LINE = 8192  # bytes in one protocol line
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_CONNECTION_READ = 1024 * 1024  # bytes read from one connection in all
HAPPY_EYEBALLS_DELAY = 0.25


class Deadline:
    """One point in time every step of a check must finish by."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def cap(self, seconds: float) -> float:
        return min(seconds, self.remaining())


class ConnectFailed(Exception):
    """`kind` is refused | timeout | unreachable | error."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind} {detail}".strip())
        self.kind = kind
        self.detail = detail


class ReadFailed(Exception):
    """`kind` is timeout | closed | too_long."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind} {detail}".strip())
        self.kind = kind
        self.detail = detail


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


async def _connect_one(ip: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(ip, port, limit=MAX_LINE)


async def open_tcp(
    ips: list[str], port: int, allow: tuple[IPNetwork, ...], timeout: float, *, http: bool = False
) -> Connection:
    """Connect to the first of `ips` that answers; start a new try every 250 ms (RFC 8305)."""
    check_port(port, http=http)
    allowed: list[str] = []
    refused: PolicyRefused | None = None
    for ip in ips:
        try:
            check_address(ip, allow)
            allowed.append(ip)
        except PolicyRefused as exc:
            refused = exc
    if not allowed:
        assert refused is not None
        raise refused
    allowed = allowed[:4]  # one check touches a bounded number of addresses
    started = time.monotonic()
    tasks: dict[asyncio.Task[tuple[asyncio.StreamReader, asyncio.StreamWriter]], str] = {}
    errors: list[ConnectFailed] = []
    pending_ips = list(allowed)
    try:
        while pending_ips or tasks:
            if pending_ips:
                ip = pending_ips.pop(0)
                tasks[asyncio.ensure_future(_connect_one(ip, port))] = ip
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
                errors.append(_classify_connect_error(error))
            if not done and not pending_ips:
                break  # the whole budget is spent
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            # Close a socket that connected just as we gave up on it.
            task.add_done_callback(_close_if_connected)
    if len(errors) < len(allowed):
        errors.append(ConnectFailed("timeout", f"no answer within {timeout:.1f} s"))
    order = {"refused": 0, "unreachable": 2, "error": 3, "timeout": 1}
    raise min(errors, key=lambda e: order.get(e.kind, 9))


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
        """One line without its CRLF, decoded leniently (servers send all kinds of bytes)."""
        try:
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
        except TimeoutError:
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
        try:
            data = await asyncio.wait_for(self.reader.read(n), timeout)
        except TimeoutError:
            raise ReadFailed("timeout") from None
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise ReadFailed("closed", type(exc).__name__) from None
        self.read_total += len(data)
        return data

    async def send(self, line: str, timeout: float) -> None:
        try:
            self.writer.write(line.encode("utf-8") + b"\r\n")
            await asyncio.wait_for(self.writer.drain(), timeout)
        except TimeoutError:
            raise ReadFailed("timeout", "sending") from None
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise ReadFailed("closed", type(exc).__name__) from None

    def has_buffered_data(self) -> bool:
        """Bytes already read but not consumed. After a STARTTLS go-ahead there must be none:
        anything there came before encryption and could be injected by someone on the path."""
        return bool(self.reader._buffer)  # type: ignore[attr-defined]  # no public accessor

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
