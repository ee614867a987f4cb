"""``mail-doctor explain``: pasted error text → what it means, the likely cause, what to do.

    explanation = explain(text, "ja")
    explanation.to_json()  # {"matches": [...], "bounce": {...} | None, "headers": {...} | None}
    render_text(explanation, "ja")

``explain`` never raises on any text: input beyond ``MAX_INPUT`` characters is cut, and every
pattern is bounded, so the time stays bounded too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from bot.explain.bounce import Bounce, Recipient, parse_bounce, report_end
from bot.explain.catalog import Catalog, Entry, load_catalog
from bot.explain.headers import HeaderReport, Hop, parse_headers
from bot.explain.matcher import Match, find_codes
from bot.explain.render import render_text
from bot.i18n import Lang

__all__ = [
    "MAX_INPUT",
    "Bounce",
    "Catalog",
    "Entry",
    "Explanation",
    "HeaderReport",
    "Hop",
    "Match",
    "Recipient",
    "evaluate",
    "evaluate_cases",
    "explain",
    "find_codes",
    "load_catalog",
    "parse_bounce",
    "parse_headers",
    "render_text",
]

MAX_INPUT = 200_000  # characters; a pasted bounce with its original message fits easily
CASES_FILE = ("data", "explain-cases.jsonl")  # under bot/knowledge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    lang: Lang
    matches: tuple[Match, ...]
    bounce: Bounce | None
    headers: HeaderReport | None
    truncated: bool = False
    text: str = ""  # what was examined (after the cap), so a report can quote it

    @property
    def top_cause(self) -> str | None:
        """The most likely cause: a bounce's first explained recipient, else the top match."""
        if self.bounce is not None:
            for recipient in self.bounce.recipients:
                if recipient.match is not None:
                    return recipient.match.cause_id
        return self.matches[0].cause_id if self.matches else None

    def to_json(self) -> dict[str, Any]:
        return {
            "matches": [m.to_json(self.lang) for m in self.matches],
            "bounce": self.bounce.to_json(self.lang) if self.bounce is not None else None,
            "headers": self.headers.to_json() if self.headers is not None else None,
        }


def _clean(text: str) -> str:
    # Lone surrogates (from a broken paste or a bad decode) cannot be printed or encoded.
    return text.encode("utf-8", "replace").decode("utf-8")


def explain(text: str, lang: str = "ja") -> Explanation:
    """Explain pasted text in ``lang`` ("ja" or "en"; anything else means Japanese)."""
    language: Lang = "en" if lang == "en" else "ja"
    text = text if isinstance(text, str) else str(text)
    truncated = len(text) > MAX_INPUT
    text = _clean(text[:MAX_INPUT])
    catalog = load_catalog()
    matches: list[Match] = []
    bounce: Bounce | None = None
    headers: HeaderReport | None = None
    # Each part stands alone: a fault in one reader must not hide what the others found.
    try:
        bounce = parse_bounce(text, catalog)
    except Exception:
        log.exception("explain: bounce parsing failed")
    try:
        # In a bounce, only the report counts: the returned original is the sender's own text.
        end = report_end(text) if bounce is not None else len(text)
        matches = find_codes(text[:end], catalog)
    except Exception:
        log.exception("explain: code matching failed")
    try:
        headers = parse_headers(text)
    except Exception:
        log.exception("explain: header parsing failed")
    return Explanation(language, tuple(matches), bounce, headers, truncated, text)


# -------------------------------------------------------------------------------- accuracy


def _slowest_hop(headers: HeaderReport | None) -> int | None:
    if headers is None:
        return None
    delays = [(hop.delay_seconds, index) for index, hop in enumerate(headers.hops)]
    timed = [(delay, index) for delay, index in delays if delay is not None]
    return max(timed)[1] if timed else None


def evaluate(cases: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy over cases ``{"text", "lang", "expect_codes", "expect_cause_ids",
    "expect_recipient"?, "expect_delay_hop"?}``.

    * ``top1_cause_accuracy``: the most likely cause (``Explanation.top_cause``) is one of
      ``expect_cause_ids``; over cases that list any.
    * ``code_recall``: expected codes found among the matches (and bounce statuses).
    * ``recipient_accuracy``: ``expect_recipient`` is among the bounce's recipients.
    * ``slowest_hop_accuracy``: ``expect_delay_hop`` (0-based, oldest hop first) is the hop
      with the longest delay.
    """
    n = cause_cases = cause_hits = codes_expected = codes_found = 0
    recipient_cases = recipient_hits = hop_cases = hop_hits = 0
    failures: list[dict[str, Any]] = []
    for index, case in enumerate(cases):
        n += 1
        result = explain(str(case.get("text", "")), str(case.get("lang", "ja")))
        problems: list[str] = []
        expected_causes = list(case.get("expect_cause_ids") or [])
        if expected_causes:
            cause_cases += 1
            if result.top_cause in expected_causes:
                cause_hits += 1
            else:
                problems.append(f"top cause {result.top_cause!r}, expected {expected_causes}")
        found = {m.code for m in result.matches}
        if result.bounce is not None:
            found |= {r.status for r in result.bounce.recipients if r.status}
        for code in case.get("expect_codes") or []:
            codes_expected += 1
            if code in found:
                codes_found += 1
            else:
                problems.append(f"code {code!r} not found")
        wanted = case.get("expect_recipient")
        if wanted:
            recipient_cases += 1
            got = [r.address.lower() for r in (result.bounce.recipients if result.bounce else ())]
            if str(wanted).lower() in got:
                recipient_hits += 1
            else:
                problems.append(f"recipient {wanted!r} not in {got}")
        if "expect_delay_hop" in case:
            hop_cases += 1
            slowest = _slowest_hop(result.headers)
            if slowest == case["expect_delay_hop"]:
                hop_hits += 1
            else:
                problems.append(f"slowest hop {slowest}, expected {case['expect_delay_hop']}")
        if problems:
            failures.append({"case": index + 1, "problems": problems})
    return {
        "cases": n,
        "top1_cause_accuracy": cause_hits / cause_cases if cause_cases else None,
        "cause_cases": cause_cases,
        "code_recall": codes_found / codes_expected if codes_expected else None,
        "expected_codes": codes_expected,
        "recipient_accuracy": recipient_hits / recipient_cases if recipient_cases else None,
        "recipient_cases": recipient_cases,
        "slowest_hop_accuracy": hop_hits / hop_cases if hop_cases else None,
        "hop_cases": hop_cases,
        "failures": failures,
    }


def _read_cases(text: str, where: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}:{number}: not JSON: {exc}") from exc
        if not isinstance(case, dict) or not isinstance(case.get("text"), str):
            raise ValueError(f'{where}:{number}: a case is an object with a "text" string')
        cases.append(case)
    return cases


def evaluate_cases(path: str | PathLike[str] | None = None) -> dict[str, Any]:
    """``evaluate`` over a JSONL file; by default the packaged bot/knowledge/data set."""
    if path is None:
        resource = resources.files("bot.knowledge").joinpath(CASES_FILE[0]).joinpath(CASES_FILE[1])
        return evaluate(_read_cases(resource.read_text("utf-8"), "/".join(CASES_FILE)))
    return evaluate(_read_cases(Path(path).read_text("utf-8"), str(path)))
