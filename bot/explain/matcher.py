"""Find error codes and known error messages in pasted text, most likely first.

Matching runs on NFKC-normalised text (full-width digits and brackets, half-width kana become
their plain forms), but every span points into the text as the person pasted it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.explain.catalog import Catalog, Entry, Kind, load_catalog
from bot.i18n import Lang

__all__ = ["Match", "Normalised", "find_codes", "normalise"]

# Base scores: a server's own words and an enhanced code say more than an app's generic alert,
# and a bare three-digit reply is only a class of problem.
_SCORE = {
    "provider_message": 0.90,
    "outlook": 0.88,
    "enhanced": 0.80,
    "client_message": 0.70,
    "smtp": 0.50,
}
_REPLY_PREFIX_BONUS = 0.05  # "550 5.1.1": the enhanced code really is a reply's
_CONTEXT_BONUS = 0.03  # the reply text confirmed which meaning of the code applies
_SUBJECT_FAMILY_PENALTY = 0.15  # 5.7.X instead of an exact 5.7.n
_CLASS_FAMILY_PENALTY = 0.25  # 5.X.X
_CLASS_SWAP_PENALTY = 0.03  # 4.7.26 explained by the 5.7.26 entry
_UNVERIFIED_PENALTY = 0.05
# A headline ("Cannot Send Mail", "Delivery has failed") only says that something failed; the
# detail next to it, even a bare reply code, says more.
_HEADLINE_PENALTY = 0.25
# Per other clue pointing at the same cause (at most 3): a bare reply class or an app's
# generic alert is weaker evidence than a code or a server's words.
_AGREEMENT_BONUS = {"smtp": 0.01, "client_message": 0.01}
_AGREEMENT_DEFAULT = 0.02
_CONTEXT_BEFORE = 160  # how far around a code its reply text is looked for
_CONTEXT_AFTER = 400

_HEX = re.compile(r"(?<![0-9A-Za-z])0[xX]([0-9A-Fa-f]{8})(?![0-9A-Za-z])")
_ENHANCED = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\w|\.\d)")
# An enhanced code right after a version word is a version number ("iOS 5.1.1").
_VERSION_BEFORE = re.compile(
    r"(?:version|ver\.?|ios|ipados|macos|android|windows|thunderbird|outlook|office|"
    r"python|build|バージョン)\s{0,2}$",
    re.IGNORECASE,
)
_REPLY_BEFORE = re.compile(r"[245]\d\d[ -]$")
# Three-digit replies only where they stand as replies.
_SMTP_BEFORE_ENHANCED = re.compile(
    r"(?<![\w.])([245]\d\d)[ -](?=[245]\.\d{1,3}\.\d{1,3}(?!\w|\.\d))"
)
_SMTP_LINE_START = re.compile(
    r"^[ \t>#*]{0,8}([245]\d\d)(?=[ -](?:[A-Za-z<\[(\"']|[245]\.\d))", re.MULTILINE
)
_SMTP_KEYWORD = re.compile(
    r"(?:error|code|said|responded|response|reply|replied|returned|smtp;|エラー|応答|コード)"
    r"[\s:=#'\"(]{0,4}([245]\d\d)(?![\w.])",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------- normalising


def _joins_previous(char: str) -> bool:
    # Characters NFKC composes with the one before them (voiced marks, combining accents).
    return bool(unicodedata.combining(char)) or char in "\uff9e\uff9f\u3099\u309a"


@dataclass(frozen=True)
class Normalised:
    """NFKC text and the way back from its offsets to the original's."""

    text: str
    length: int  # of the original
    starts: tuple[int, ...] | None = None  # original start of each normalised character
    ends: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.starts is None or self.ends is None:
            return start, end
        begin = self.starts[start] if start < len(self.starts) else self.length
        finish = self.ends[end - 1] if end > start else begin
        return begin, finish


def normalise(text: str) -> Normalised:
    """NFKC per character cluster, so that each normalised character knows where it came from."""
    if unicodedata.is_normalized("NFKC", text):
        return Normalised(text, len(text))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and _joins_previous(text[j]):
            j += 1
        chunk = unicodedata.normalize("NFKC", text[i:j])
        parts.append(chunk)
        starts.extend([i] * len(chunk))
        ends.extend([j] * len(chunk))
        i = j
    return Normalised("".join(parts), n, tuple(starts), tuple(ends))


# ------------------------------------------------------------------------------------ matches


@dataclass(frozen=True)
class Match:
    """One explained clue. ``span`` is (start, end) in the original text."""

    code: str
    kind: Kind
    cause_id: str
    span: tuple[int, int]
    score: float
    entry: Entry
    reply: str = ""  # 0x800CCC6x: the SMTP reply Outlook saw
    reply_entry: Entry | None = None
    temporary: bool = False  # a 4.x.x code explained by its 5.x.x entry

    def meaning(self, lang: Lang) -> str:
        if self.entry.replies:
            shown = ""
            if self.reply:
                shown = f"({self.reply})" if lang == "ja" else f" ({self.reply})"
            text = self.entry.text("meaning", lang, reply=shown)
            if self.reply_entry is not None:
                gap = "" if lang == "ja" else " "
                text = f"{text}{gap}{self.reply_entry.text('meaning', lang)}"
            return text
        text = self.entry.text("meaning", lang)
        if self.temporary:
            note = load_catalog().label("temporary_variant", lang)
            text = f"{text}{note}" if lang == "ja" else f"{text} {note}"
        return text

    def cause(self, lang: Lang) -> str:
        return (self.reply_entry or self.entry).text("cause", lang)

    def fix(self, lang: Lang) -> str:
        return (self.reply_entry or self.entry).text("fix", lang)

    def to_json(self, lang: Lang) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "cause_id": self.cause_id,
            "meaning": self.meaning(lang),
            "cause": self.cause(lang),
            "fix": self.fix(lang),
            "span": [self.span[0], self.span[1]],
        }


@dataclass
class _Candidate:
    code: str
    kind: Kind
    start: int  # in the normalised text
    end: int
    entry: Entry
    score: float
    reply: str = ""
    reply_entry: Entry | None = None
    temporary: bool = False

    @property
    def cause_id(self) -> str:
        return (self.reply_entry or self.entry).cause_id


def _context_window(text: str, start: int, end: int) -> tuple[str, int]:
    line_start = text.rfind("\n", max(0, start - _CONTEXT_BEFORE), start) + 1
    begin = max(line_start, start - _CONTEXT_BEFORE)
    return text[begin : end + _CONTEXT_AFTER], start - begin


def _choose(variants: tuple[Entry, ...], text: str, start: int, end: int) -> tuple[Entry, bool]:
    """The variant whose context matches closest to the code, else the default (last)."""
    window, offset = _context_window(text, start, end)
    best: tuple[int, Entry] | None = None
    for entry in variants:
        if entry.context is None:
            continue
        found = entry.context.search(window)
        if found is not None:
            distance = abs(found.start() - offset)
            if best is None or distance < best[0]:
                best = (distance, entry)
    if best is not None:
        return best[1], True
    return variants[-1], False


def _outlook(catalog: Catalog, text: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    for found in _HEX.finditer(text):
        code = "0x" + found.group(1).upper()
        start, end = found.span()
        variants = catalog.variants("outlook", code)
        if variants:
            entry, chosen = _choose(variants, text, start, end)
            out.append(_Candidate(code, "outlook", start, end, entry, _bonus(entry, chosen)))
            continue
        family = catalog.variants("outlook", code[:-1] + "X")
        if not family or code[-2:] not in family[-1].replies:
            continue
        entry = family[-1]
        reply = entry.replies[code[-2:]]
        reply_entry = None
        if reply:
            reply_entry, _ = _choose(catalog.variants("smtp", reply), text, start, end)
        score = _bonus(entry, False) - _SUBJECT_FAMILY_PENALTY  # a family, like 5.7.X
        cand = _Candidate(code, "outlook", start, end, entry, score, reply)
        cand.reply_entry = reply_entry
        out.append(cand)
    return out


def _bonus(entry: Entry, context_chosen: bool) -> float:
    score = _SCORE[entry.kind]
    if context_chosen:
        score += _CONTEXT_BONUS
    if entry.confidence == "unverified":
        score -= _UNVERIFIED_PENALTY
    if entry.headline:
        score -= _HEADLINE_PENALTY
    return score


def _enhanced_entry(
    catalog: Catalog, klass: str, subject: str, detail: str
) -> tuple[tuple[Entry, ...], float, bool]:
    """Variants for a code, most specific first: exact, other class (X.7.n), families."""
    code = f"{klass}.{subject}.{detail}"
    variants = catalog.variants("enhanced", code)
    if variants:
        return variants, 0.0, False
    if subject == "7":  # IANA defines most X.7.n for both classes
        other = "5" if klass == "4" else "4"
        variants = catalog.variants("enhanced", f"{other}.{subject}.{detail}")
        if variants:
            return variants, _CLASS_SWAP_PENALTY, klass == "4"
    variants = catalog.variants("enhanced", f"{klass}.{subject}.X")
    if variants:
        return variants, _SUBJECT_FAMILY_PENALTY, False
    return catalog.variants("enhanced", f"{klass}.X.X"), _CLASS_FAMILY_PENALTY, False


def _enhanced(catalog: Catalog, text: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    for found in _ENHANCED.finditer(text):
        klass, subject, detail = found.groups()
        if int(subject) > 7 or any(len(p) > 1 and p[0] == "0" for p in (subject, detail)):
            continue
        start, end = found.span()
        before = text[max(0, start - 16) : start]
        if _VERSION_BEFORE.search(before):
            continue
        variants, penalty, temporary = _enhanced_entry(catalog, klass, subject, detail)
        if not variants:
            continue
        entry, chosen = _choose(variants, text, start, end)
        score = _bonus(entry, chosen) - penalty
        if _REPLY_BEFORE.search(before):
            score += _REPLY_PREFIX_BONUS
        code = f"{klass}.{subject}.{detail}"
        out.append(_Candidate(code, "enhanced", start, end, entry, score, temporary=temporary))
    return out


def _smtp(catalog: Catalog, text: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    seen: set[int] = set()
    for pattern, bonus in (
        (_SMTP_BEFORE_ENHANCED, _REPLY_PREFIX_BONUS),
        (_SMTP_LINE_START, 0.0),
        (_SMTP_KEYWORD, 0.0),
    ):
        for found in pattern.finditer(text):
            start, end = found.span(1)
            code = found.group(1)
            variants = catalog.variants("smtp", code)
            if start in seen or not variants:
                continue
            seen.add(start)
            entry, chosen = _choose(variants, text, start, end)
            out.append(_Candidate(code, "smtp", start, end, entry, _bonus(entry, chosen) + bonus))
    return out


def _messages(catalog: Catalog, text: str) -> list[_Candidate]:
    out: list[_Candidate] = []
    for entry in catalog.messages:
        for pattern in entry.patterns:
            found = pattern.search(text)
            if found is not None and found.end() > found.start():
                start, end = found.span()
                score = _bonus(entry, False)
                out.append(_Candidate(entry.code, entry.kind, start, end, entry, score))
    # A message inside a longer, more specific one ("受信者 … によって拒否されました" holds the
    # generic "によって拒否されました") is the same clue read less precisely: keep the longer.
    # On the very same text the entry listed first in the catalog (the more specific) stays.
    out.sort(key=lambda c: (c.start, -(c.end - c.start)))  # stable: catalog order on ties
    kept: list[_Candidate] = []
    for cand in out:
        if not any(k.start <= cand.start and cand.end <= k.end for k in kept):
            kept.append(cand)
    return kept


def _rank(candidates: list[_Candidate]) -> list[_Candidate]:
    best: dict[tuple[str, str], _Candidate] = {}
    for cand in candidates:
        key = (cand.kind, cand.code)
        held = best.get(key)
        if held is None or (cand.score, -cand.start) > (held.score, -held.start):
            best[key] = cand
    unique = list(best.values())
    bonuses = []
    for cand in unique:
        agreeing = sorted(
            (
                _AGREEMENT_BONUS.get(o.kind, _AGREEMENT_DEFAULT)
                for o in unique
                if o is not cand and o.cause_id == cand.cause_id
            ),
            reverse=True,
        )
        bonuses.append(sum(agreeing[:3]))
    for cand, bonus in zip(unique, bonuses, strict=True):
        cand.score += bonus
    unique.sort(key=lambda c: (-round(c.score, 6), c.start))
    return unique


def find_codes(text: str, catalog: Catalog | None = None) -> list[Match]:
    """Every code and known message in ``text``, deduplicated, most likely first."""
    catalog = catalog or load_catalog()
    norm = normalise(text)
    body = norm.text
    candidates = (
        _outlook(catalog, body)
        + _enhanced(catalog, body)
        + _smtp(catalog, body)
        + _messages(catalog, body)
    )
    matches: list[Match] = []
    for cand in _rank(candidates):
        matches.append(
            Match(
                code=cand.code,
                kind=cand.kind,
                cause_id=cand.cause_id,
                span=norm.original_span(cand.start, cand.end),
                score=round(cand.score, 4),
                entry=cand.entry,
                reply=cand.reply,
                reply_entry=cand.reply_entry,
                temporary=cand.temporary,
            )
        )
    return matches
