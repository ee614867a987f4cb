"""IMAP4rev1 as a probe sees it (RFC 3501, 2595): greeting, CAPABILITY, STARTTLS, LOGIN."""

from __future__ import annotations

import re

from bot.model import Protocol
from bot.probes.dialect import Dialect, Reply, read_lines_until
from bot.probes.transport import Connection

_CAPABILITY_CODE = re.compile(r"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapDialect(Dialect):
    protocol = Protocol.IMAP
    starttls_word = "STARTTLS"

    def __init__(self) -> None:
        self._tag = 0
        self._greeting_caps: list[str] = []

    def _next_tag(self) -> str:
        self._tag += 1
        return f"md{self._tag}"

    async def _command(
        self, conn: Connection, command: str, timeout: float
    ) -> tuple[Reply, list[str]]:
        tag = self._next_tag()
        await conn.send(f"{tag} {command}", timeout)
        lines = await read_lines_until(conn, timeout, lambda line: line.startswith(tag + " "))
        status = lines[-1][len(tag) + 1 :].split(" ", 1)[0].upper()
        return Reply(ok=status == "OK", text=lines[-1][len(tag) + 1 :], code=status), lines[:-1]

    async def read_greeting(self, conn: Connection, timeout: float) -> Reply:
        line = await conn.readline(timeout)
        status = line[2:].split(" ", 1)[0].upper() if line.startswith("* ") else ""
        match = _CAPABILITY_CODE.search(line)
        self._greeting_caps = match.group(1).upper().split() if match else []
        return Reply(ok=status in ("OK", "PREAUTH"), text=line, code=status)

    async def capabilities(self, conn: Connection, timeout: float) -> list[str]:
        reply, untagged = await self._command(conn, "CAPABILITY", timeout)
        caps: list[str] = []
        for line in untagged:
            if line.upper().startswith("* CAPABILITY "):
                caps.extend(line[len("* CAPABILITY ") :].upper().split())
        if not caps:
            match = _CAPABILITY_CODE.search(reply.text)
            caps = match.group(1).upper().split() if match else []
        return caps or self._greeting_caps

    async def starttls(self, conn: Connection, timeout: float) -> Reply:
        reply, _ = await self._command(conn, "STARTTLS", timeout)
        return reply

    def mechanisms(self, caps: list[str]) -> list[str]:
        return [c[5:] for c in caps if c.startswith("AUTH=")]

    def login_disabled(self, caps: list[str]) -> bool:
        return "LOGINDISABLED" in caps

    async def login(
        self, conn: Connection, user: str, password: str, caps: list[str], timeout: float
    ) -> Reply:
        reply, _ = await self._command(conn, f"LOGIN {quote(user)} {quote(password)}", timeout)
        return reply

    async def quit(self, conn: Connection, timeout: float) -> None:
        await conn.send(f"{self._next_tag()} LOGOUT", timeout)
