"""Small Python servers for what real daemons cannot do: a silent peer and the web hosts.

They run on one asyncio loop in a background thread, so the test code stays synchronous.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from . import autoconfig, layout
from .certs import CertPair
from .loopthread import BackgroundLoop

HEAD_LIMIT = 16 * 1024
READ_TIMEOUT = 10.0

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class HttpRequest(NamedTuple):
    """What was fetched: compare with a (host, path) tuple."""

    host: str  # Host header, lower-case, without port
    path: str  # without the query string


@dataclass(frozen=True)
class HttpExchange:
    """One request in full, for tests that care about scheme, method, query or status."""

    scheme: str  # "http" or "https"
    method: str
    host: str
    path: str
    query: str
    status: int

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"


@dataclass
class _Response:
    status: int
    body: bytes


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class Peers(BackgroundLoop):
    def __init__(self, web_cert: CertPair, log: Path) -> None:
        super().__init__("mailnet-peers", log)
        self.http_requests: list[HttpRequest] = []
        self.http_log: list[HttpExchange] = []
        self._web_cert = web_cert
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # --- servers (on the loop thread) ---

    async def _listen(
        self, handler: Handler, ip: str, port: int, tls: ssl.SSLContext | None = None
    ) -> None:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                pass
            finally:
                self._tasks.discard(task)
                writer.close()

        server = await asyncio.start_server(
            tracked,
            ip,
            port,
            ssl=tls,
            ssl_handshake_timeout=5 if tls else None,
            reuse_address=True,
        )
        self._servers.append(server)

    async def _start_servers(self) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self._web_cert.cert, self._web_cert.key)
        for port in layout.SILENT_PORTS:
            await self._listen(self._silent, layout.SILENT_IP, port)
        await self._listen(self._web_handler("http", self._autoconfig), layout.WEB_IP, 80)
        await self._listen(self._web_handler("https", self._autoconfig), layout.WEB_IP, 443, tls)
        await self._listen(self._web_handler("http", self._ispdb), layout.ISPDB_IP, 80)

    async def _stop_servers(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        for server in self._servers:
            await server.wait_closed()

    # --- behaviours ---

    async def _silent(self, reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        # Accept, never send a byte; read and discard until the client gives up.
        while await reader.read(4096):
            pass

    def _web_handler(self, scheme: str, route: Callable[[str, str], _Response]) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            if len(head) > HEAD_LIMIT:
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                await self._respond(writer, _Response(400, b""), "GET")
                return
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            host = headers.get("host", "").lower()
            host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            parts = urlsplit(target)
            allowed = method in ("GET", "HEAD")
            response = route(host, parts.path) if allowed else _Response(405, b"")
            self.http_log.append(
                HttpExchange(scheme, method, host, parts.path, parts.query, response.status)
            )
            self.http_requests.append(HttpRequest(host, parts.path))
            await self._respond(writer, response, method)

        return handle

    @staticmethod
    def _autoconfig(host: str, path: str) -> _Response:
        body = autoconfig.AUTOCONFIG_ROUTES.get((host, path))
        return _Response(200, body) if body is not None else _Response(404, b"not found\n")

    @staticmethod
    def _ispdb(_host: str, path: str) -> _Response:
        body = autoconfig.ISPDB_ROUTES.get(path)
        return _Response(200, body) if body is not None else _Response(404, b"not found\n")

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, response: _Response, method: str) -> None:
        ctype = "application/xml" if response.status == 200 else "text/plain"
        head = (
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, '')}\r\n"
            f"Content-Type: {ctype}; charset=utf-8\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        writer.write(head if method == "HEAD" else head + response.body)
        await writer.drain()
