"""POP3 as a probe sees it (RFC 1939, 2449, 2595). No asyncio library exists; this is small."""

from __future__ import annotations

from bot.model import Protocol
from bot.probes.dialect import Dialect, Reply, read_lines_until
from bot.probes.transport import Connection


def _status(line: str) -> Reply:
    code = line.split(" ", 1)[0].upper()
    return Reply(ok=code == "+OK", text=line, code=code)


class Pop3Dialect(Dialect):
    protocol = Protocol.POP3
    starttls_word = "STLS"

    async def read_greeting(self, conn: Connection, timeout: float) -> Reply:
        return _status(await conn.readline(timeout))

    async def _simple(self, conn: Connection, command: str, timeout: float) -> Reply:
        await conn.send(command, timeout)
        return _status(await conn.readline(timeout))

    async def capabilities(self, conn: Connection, timeout: float) -> list[str]:
        reply = await self._simple(conn, "CAPA", timeout)
        if not reply.ok:
            return []  # a server older than RFC 2449
        lines = await read_lines_until(conn, timeout, lambda line: line == ".")
        return [line.upper() for line in lines[:-1] if line]

    async def starttls(self, conn: Connection, timeout: float) -> Reply:
        return await self._simple(conn, "STLS", timeout)

    def mechanisms(self, caps: list[str]) -> list[str]:
        mechanisms: list[str] = []
        for cap in caps:
            words = cap.split()
            if words and words[0] == "SASL":
                mechanisms.extend(words[1:])
            if words and words[0] == "USER":
                mechanisms.append("USER")
        return mechanisms

    def login_disabled(self, caps: list[str]) -> bool:
        # RFC 2449: USER is listed only when plain USER/PASS is allowed on this connection.
        return bool(caps) and not self.mechanisms(caps)

    async def login(
        self, conn: Connection, user: str, password: str, caps: list[str], timeout: float
    ) -> Reply:
        reply = await self._simple(conn, f"USER {user}", timeout)
        if not reply.ok:
            return reply
        return await self._simple(conn, f"PASS {password}", timeout)

    async def quit(self, conn: Connection, timeout: float) -> None:
        await conn.send("QUIT", timeout)
