"""A discovered setting and where it came from, in order of trust."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bot.model import Endpoint


class Source(IntEnum):
    """Lower is more trusted. The names are the `source` words of the report."""

    PROVIDER = 1  # built-in provider knowledge
    AUTOCONFIG = 2  # the domain's own autoconfig file
    ISPDB = 3  # Thunderbird's ISPDB
    SRV = 4  # RFC 6186 / 8314 SRV records
    MX = 5  # settings of the domain the MX host belongs to
    GUESS = 6  # host names and ports tried one by one

    @property
    def word(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Candidate:
    endpoint: Endpoint
    source: Source
    detail: str = ""  # e.g. the URL of the autoconfig file, the SRV name
    username: str | None = None  # "address" | "localpart" | None (unknown)
