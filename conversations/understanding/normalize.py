"""Folding what people type into one form the patterns can match.

NFKC turns full-width letters and digits (ＳＭＴＰ５８７) and half-width katakana (ﾒｰﾙ) into their
usual forms; lower-casing and dropping spaces lets one pattern match 「メール 送れない」,
「メールが送れない」 and "Can't  send".
"""

from __future__ import annotations

import re
import unicodedata

MAX_INPUT = 4000  # characters looked at; a 100 kB paste is understood from its start

_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_SPACES = re.compile(r"\s+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Small kana and long-vowel variants people produce with an IME slip.
_VARIANTS = str.maketrans({"〜": "~", "～": "~", "ー": "ー", "‐": "-", "−": "-", "―": "-"})


def printable(text: str) -> str:
    """The text with lone surrogates (a broken paste, a bad decode, a "\\ud800" in JSON) shown
    as U+FFFD: they cannot be stored as UTF-8, logged or sent back."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def unwrap_platform_markup(text: str) -> str:
    """Slack writes <mailto:a@b|a@b> and <http://x|label>; keep what the person typed."""
    text = _MAILTO.sub(lambda m: m.group(1), text)
    return _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)


def normalize(text: str) -> str:
    """NFKC, lower case, one space between words (for entity extraction)."""
    text = unwrap_platform_markup(text[:MAX_INPUT])
    text = unicodedata.normalize("NFKC", text).translate(_VARIANTS)
    # Control and format characters (NUL, bidi marks, zero-width joiners) and lone surrogates
    # from a broken paste say nothing and would split words.
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs") or ch in "\n\t"
    )
    return _SPACES.sub(" ", text).strip().lower()


def compact(text: str) -> str:
    """The normalised text without any spaces (for Japanese phrase matching)."""
    return normalize(text).replace(" ", "")
