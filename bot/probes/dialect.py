"""What the probe runner needs from a mail protocol: greeting, capabilities, STARTTLS, login."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from bot.model import Protocol
from bot.probes.transport import Connection, ReadFailed

MAX_REPLY_LINES = 512
OAUTH_MECHANISMS = frozenset({"XOAUTH2", "OAUTHBEARER"})


@dataclass(frozen=True)
class Reply:
    ok: bool
    text: str  # the whole reply, lines joined with "\n"
    code: str = ""  # SMTP's three digits, IMAP's OK/NO/BAD, POP3's +OK/-ERR


class Dialect(ABC):
    protocol: Protocol
    starttls_word: str

    @abstractmethod
    async def read_greeting(self, conn: Connection, timeout: float) -> Reply: ...

    @abstractmethod
    async def capabilities(self, conn: Connection, timeout: float) -> list[str]:
        """Capability words, upper-case, e.g. ["STARTTLS", "AUTH PLAIN LOGIN", "SIZE 1000"]."""

    def offers_starttls(self, caps: list[str]) -> bool:
        return any(c.split()[0] == self.starttls_word for c in caps if c)

    @abstractmethod
    async def starttls(self, conn: Connection, timeout: float) -> Reply: ...

    @abstractmethod
    def mechanisms(self, caps: list[str]) -> list[str]: ...

    def login_disabled(self, caps: list[str]) -> bool:
        """True when the server refuses password login on this (unencrypted) channel."""
        return False

    @abstractmethod
    async def login(
        self, conn: Connection, user: str, password: str, caps: list[str], timeout: float
    ) -> Reply: ...

    @abstractmethod
    async def quit(self, conn: Connection, timeout: float) -> None:
        """Say goodbye without waiting for the answer: it tells nothing, and costs a round trip."""


async def read_lines_until(
    conn: Connection, timeout: float, is_last: Callable[[str], bool]
) -> list[str]:
    """Read lines until `is_last(line)` is true, at most MAX_REPLY_LINES, all within `timeout`.

    A reply that has begun but not ended when the time runs out is a slow server ("slow"), not
    a silent one."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = await conn.readline(max(0.0, deadline - time.monotonic()))
        except ReadFailed as exc:
            if exc.kind == "timeout" and lines:
                raise ReadFailed(
                    "slow", f"{len(lines)} lines of a reply arrived in {timeout:.1f} s"
                ) from None
            raise
        lines.append(line)
        if is_last(line):
            return lines
        if len(lines) >= MAX_REPLY_LINES:
            raise ReadFailed("too_long", f"more than {MAX_REPLY_LINES} lines in one reply")
