"""Suggestions for mistyped well-known mail domains ("did you mean gmail.com?").

Use it when a domain looks wrong (no MX, unknown to the provider table) and phrase the result as
a question: a suggestion can also hit a real but less common domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from bot.knowledge.providers import load_providers, normalize_domain

__all__ = ["known_mail_domains", "suggest_domain"]

# Common mail domains that are not (or not as exact domains) in providers.toml. Listing a real
# domain here also stops it from being "corrected" into a neighbour (hotmail.co.uk → .co.jp).
_EXTRA_DOMAINS: tuple[str, ...] = (
    "yahoo.ne.jp",  # Y!mobile
    "nifty.ne.jp",
    "goo.jp",
    "iijmio-mail.jp",
    "zoho.jp",
    "zoho.com",
    "aol.com",
    "mail.com",  # real webmail: not a typo of gmail.com
    "email.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "hotmail.co.uk",
    "hotmail.fr",
    "live.co.uk",
)

# Most common first: a rough judgement of usage among Japanese users, used only to break ties
# between candidates at the same distance. Unlisted domains rank after these, alphabetically.
_POPULAR: tuple[str, ...] = (
    "gmail.com",
    "yahoo.co.jp",
    "icloud.com",
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "outlook.jp",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.jp",
    "ymobile.ne.jp",
    "yahoo.ne.jp",
    "me.com",
    "live.jp",
    "ocn.ne.jp",
    "nifty.com",
    "biglobe.ne.jp",
    "ybb.ne.jp",
    "yahoo.com",
    "so-net.ne.jp",
    "plala.or.jp",
    "mac.com",
    "live.com",
    "msn.com",
    "googlemail.com",
    "aol.com",
)

# "Right name, wrong ending" (gmail.co.jp, docomo.com) is the classic Japanese slip; it is more
# than two edits away, so it is checked separately. Longest ending first.
_ENDINGS: tuple[str, ...] = (".co.jp", ".ne.jp", ".or.jp", ".com", ".net", ".jp")
_MIN_NAME_FOR_ENDING_SWAP = 5  # "gmail", "yahoo"; shorter names (au, me, ocn) are too ambiguous
_SHORT_LABEL = 3  # first labels this short (au, me, mac, ocn) only accept a swap of two letters
_MIN_LEN_FOR_DISTANCE_2 = 10  # docomo.ne.jp yes, gmail.com no


@dataclass(frozen=True)
class _Index:
    known: frozenset[str]
    ranked: tuple[str, ...]  # every known domain, most common first
    by_name: dict[str, tuple[str, ...]]  # "gmail" -> ("gmail.com",), in rank order


def _split_ending(domain: str) -> tuple[str, str]:
    for ending in _ENDINGS:
        if domain.endswith(ending) and len(domain) > len(ending):
            return domain[: -len(ending)], ending
    return domain, ""


@cache
def _index() -> _Index:
    known = load_providers().known_domains() | frozenset(_EXTRA_DOMAINS)
    rank = {d: i for i, d in enumerate(_POPULAR)}
    ranked = tuple(sorted(known, key=lambda d: (rank.get(d, len(rank)), d)))
    by_name: dict[str, list[str]] = {}
    for d in ranked:
        by_name.setdefault(_split_ending(d)[0], []).append(d)
    return _Index(known, ranked, {k: tuple(v) for k, v in by_name.items()})


def known_mail_domains() -> frozenset[str]:
    """The domains suggestions are drawn from (provider table plus a few common extras)."""
    return _index().known


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or limit + 1 if above limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = ca != cb
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)  # adjacent swap
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1] if prev[-1] <= limit else limit + 1


def _plausible(typed: str, candidate: str, distance: int) -> bool:
    """Reject edits that would turn a different short name into a known one (ai.com → au.com)."""
    typed_first, cand_first = typed.split(".", 1)[0], candidate.split(".", 1)[0]
    if len(cand_first) <= _SHORT_LABEL and typed_first != cand_first:
        return distance == 1 and sorted(typed_first) == sorted(cand_first)  # e.g. ua.com
    if distance == 2:
        return len(candidate) >= _MIN_LEN_FOR_DISTANCE_2 and typed[0] == candidate[0]
    return True


def suggest_domain(domain: str) -> str | None:
    """A well-known mail domain the user probably meant, or None.

    None for a known domain (including provider sub-domains such as foo.sakura.ne.jp), for input
    that is not a domain, and when nothing is close. Ties go to the more common domain.
    """
    typed = normalize_domain(domain)
    if not typed:
        return None
    index = _index()
    if typed in index.known or load_providers().by_domain(typed) is not None:
        return None

    best: tuple[int, int, str] | None = None  # (distance, rank, domain)
    for rank, candidate in enumerate(index.ranked):
        d = _distance(typed, candidate, 2)
        if d <= 2 and _plausible(typed, candidate, d):
            best = min(best or (d, rank, candidate), (d, rank, candidate))
    if best is not None and best[0] == 1:
        return best[2]

    # Right name, wrong ending: counts like distance 2, and ties again go to the common one.
    name, _ = _split_ending(typed)
    if len(name) >= _MIN_NAME_FOR_ENDING_SWAP and name in index.by_name:
        swap = index.by_name[name][0]
        swap_key = (2, index.ranked.index(swap), swap)
        best = min(best or swap_key, swap_key)
    return best[2] if best is not None else None
