"""Read pasted message headers: the route (Received chain, oldest first) with the delay of each
hop, and the sender-authentication results (SPF, DKIM, DMARC, ARC) the receiving side recorded.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["HeaderReport", "Hop", "parse_headers"]

_FIELD = re.compile(r"^([!-9;-~]{1,76}):[ \t]?(.*)$")
_RELEVANT = frozenset(
    {"received", "authentication-results", "arc-authentication-results", "received-spf"}
)
_COMMENT = re.compile(r"\([^()]{0,2000}\)")
_FROM = re.compile(r"^\s*from\s+([^\s;]{1,255})", re.IGNORECASE)
_BY = re.compile(r"(?:^|\s)by\s+([^\s;]{1,255})", re.IGNORECASE)
_WITH = re.compile(r"(?:^|\s)with\s+([A-Za-z0-9-]{1,40})", re.IGNORECASE)
_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{3,45})\]")
_RESULT = re.compile(r"(?<![\w.-])(spf|dkim|dmarc|arc)\s{0,2}=\s{0,2}([A-Za-z]{1,12})", re.I)
_MAX_HOPS = 100
METHODS = ("spf", "dkim", "dmarc", "arc")


@dataclass(frozen=True)
class Hop:
    from_host: str | None
    from_ip: str | None
    by_host: str | None
    protocol: str | None  # the "with" word: ESMTPS, SMTP, HTTP, LMTP …
    date: dt.datetime | None
    delay_seconds: float | None  # since the previous hop (the first: since the Date header)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.from_host,
            "from_ip": self.from_ip,
            "by": self.by_host,
            "with": self.protocol,
            "date": self.date.isoformat() if self.date else None,
            "delay_seconds": self.delay_seconds,
        }


@dataclass(frozen=True)
class HeaderReport:
    hops: tuple[Hop, ...]
    date: dt.datetime | None  # the Date: header, when the sender's app wrote the message
    total_delay_seconds: float | None
    auth: dict[str, str | None]  # spf/dkim/dmarc/arc → pass, fail, softfail, none, … or None

    def to_json(self) -> dict[str, Any]:
        return {
            "hops": [hop.to_json() for hop in self.hops],
            "date": self.date.isoformat() if self.date else None,
            "total_delay_seconds": self.total_delay_seconds,
            **{method: self.auth.get(method) for method in METHODS},
        }


def _blocks(text: str) -> list[list[tuple[str, str]]]:
    """Runs of header fields, continuation lines unfolded (RFC 5322 §2.2.3)."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and line.strip() and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}")
            continue
        found = _FIELD.match(line)
        if found is not None:
            current.append((found.group(1).lower(), found.group(2).strip()))
            continue
        if current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _date(value: str) -> dt.datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC with no claim about the local zone
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _hop(value: str) -> Hop:
    head, _, when = value.rpartition(";")
    if not head:  # no date part
        head, when = value, ""
    bare = head
    for _ in range(3):  # comments may nest
        bare = _COMMENT.sub(" ", bare)
    from_host = _FROM.search(bare)
    by_host = _BY.search(bare)
    protocol = _WITH.search(bare)
    from_part = head.split(" by ", 1)[0] if from_host else ""
    ip = _IP.search(from_part)
    return Hop(
        from_host=from_host.group(1) if from_host else None,
        from_ip=ip.group(1) if ip else None,
        by_host=by_host.group(1) if by_host else None,
        protocol=protocol.group(1) if protocol else None,
        date=_date(when) if when.strip() else None,
        delay_seconds=None,
    )


def _with_delays(hops: list[Hop], sent: dt.datetime | None) -> list[Hop]:
    out: list[Hop] = []
    previous = sent
    for hop in hops:
        delay = None
        if hop.date is not None and previous is not None:
            delay = (hop.date - previous).total_seconds()
        out.append(Hop(hop.from_host, hop.from_ip, hop.by_host, hop.protocol, hop.date, delay))
        previous = hop.date or previous
    return out


def _auth(fields: list[tuple[str, str]]) -> dict[str, str | None]:
    """The newest verdict per method: the topmost header wins, A-R before ARC before SPF."""
    auth: dict[str, str | None] = dict.fromkeys(METHODS)
    for wanted in ("authentication-results", "arc-authentication-results"):
        for name, value in fields:
            if name != wanted:
                continue
            results: dict[str, list[str]] = {}
            for found in _RESULT.finditer(value):
                results.setdefault(found.group(1).lower(), []).append(found.group(2).lower())
            for method, verdicts in results.items():
                if auth.get(method) is None:
                    # Several DKIM signatures: one that passes is enough, as for DMARC.
                    auth[method] = "pass" if "pass" in verdicts else verdicts[0]
    if auth["spf"] is None:
        for name, value in fields:
            if name == "received-spf" and value:
                auth["spf"] = value.split()[0].lower().strip(";")
                break
    return auth


def parse_headers(text: str) -> HeaderReport | None:
    """The route and authentication results of the first header block, or None if none."""
    block = next(
        (b for b in _blocks(text) if any(name in _RELEVANT for name, _ in b)),
        None,
    )
    if block is None:
        return None
    received = [value for name, value in block if name == "received"][:_MAX_HOPS]
    sent = next((_date(value) for name, value in block if name == "date"), None)
    # Each server adds its Received line on top: reversed, the route runs oldest first.
    hops = _with_delays([_hop(value) for value in reversed(received)], sent)
    dated = [hop.date for hop in hops if hop.date is not None]
    # Without a Date header the first hop is the start, and one hop alone has no delay.
    start = sent or (dated[0] if len(dated) > 1 else None)
    total = (dated[-1] - start).total_seconds() if dated and start is not None else None
    return HeaderReport(tuple(hops), sent, total, _auth(block))
