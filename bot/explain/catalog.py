"""The error knowledge base: a typed, validated view of ``bot/knowledge/errors.toml``.

The TOML file is data; this module refuses data that would make the explainer lie or hang: an
unknown kind, cause or confidence, a missing Japanese or English text, a pattern that does not
compile or could backtrack for a long time on a huge pasted line. Every error names the entry.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Literal, cast

from bot.i18n import LANGS, Lang, format_text

__all__ = [
    "CONFIDENCES",
    "KINDS",
    "MESSAGE_KINDS",
    "REQUIRED_CAUSES",
    "Catalog",
    "Entry",
    "Kind",
    "load_catalog",
    "load_catalog_file",
    "parse_catalog",
]

Kind = Literal["outlook", "enhanced", "smtp", "client_message", "provider_message"]
KINDS: tuple[Kind, ...] = ("outlook", "enhanced", "smtp", "client_message", "provider_message")
MESSAGE_KINDS: frozenset[str] = frozenset({"client_message", "provider_message"})
CONFIDENCES: tuple[str, ...] = ("verified", "secondary", "unverified")
TEXT_FIELDS: tuple[str, ...] = ("meaning", "cause", "fix")

# The vocabulary issue 4 promises to callers; errors.toml may add to it, never drop from it.
REQUIRED_CAUSES: frozenset[str] = frozenset(
    {
        "recipient_unknown",
        "domain_not_found",
        "mailbox_full",
        "message_too_large",
        "mailbox_disabled",
        "relay_denied",
        "sender_rejected",
        "auth_failed",
        "app_password_required",
        "basic_auth_disabled",
        "tls_required",
        "tls_failed",
        "cannot_connect",
        "server_not_found",
        "connection_dropped",
        "timeout",
        "spf_fail",
        "dkim_fail",
        "dmarc_fail",
        "no_ptr",
        "rate_limited",
        "spam_blocked",
        "greylisted",
        "null_mx",
        "delivery_expired",
        "quota_sending_limit",
    }
)

DATA_FILE = "errors.toml"

_ENTRY_KEYS = frozenset(
    {"code", "kind", "cause_id", "confidence", "source", "patterns", "lang", "context", "replies"}
    | {"headline"}
    | {f"{name}_{lang}" for name in TEXT_FIELDS for lang in LANGS}
)
_ID = re.compile(r"[a-z0-9_]+")
_CODE_FORMS: dict[str, re.Pattern[str]] = {
    "outlook": re.compile(r"0x[0-9A-F]{7}[0-9A-FX]"),
    "enhanced": re.compile(r"[245]\.(?:\d{1,3}|X)\.(?:\d{1,3}|X)"),
    "smtp": re.compile(r"[245]\d\d"),
}
# An unbounded wildcard (.* .+ [^x]* [^x]+) can scan a whole 200 kB line from every start
# position; patterns must say {0,n} instead.
_UNBOUNDED = re.compile(r"(?:\.|\])[*+]")


@dataclass(frozen=True)
class Entry:
    """One explained code or message. ``texts`` maps ``"meaning_ja"`` etc. to the text."""

    code: str
    kind: Kind
    cause_id: str
    confidence: str
    source: str
    texts: Mapping[str, str]
    patterns: tuple[re.Pattern[str], ...] = ()
    lang: Lang | None = None
    context: re.Pattern[str] | None = None
    replies: Mapping[str, str] = field(default_factory=dict)
    headline: bool = False  # says only that something failed; a detail in the same text ranks first

    @property
    def is_family(self) -> bool:
        return "X" in self.code

    def text(self, name: str, lang: Lang, **params: Any) -> str:
        return format_text(self.texts[f"{name}_{lang}"], params)


@dataclass(frozen=True)
class Catalog:
    entries: tuple[Entry, ...]
    causes: Mapping[str, Mapping[str, str]]
    labels: Mapping[str, Mapping[str, str]]
    _index: Mapping[tuple[str, str], tuple[Entry, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def variants(self, kind: Kind, code: str) -> tuple[Entry, ...]:
        """All entries for a code: the context variants first, the default last."""
        return self._index.get((kind, code), ())

    @property
    def messages(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.kind in MESSAGE_KINDS)

    def label(self, key: str, lang: Lang, **params: Any) -> str:
        return format_text(self.labels[key][lang], params)

    def cause_label(self, cause_id: str, lang: Lang) -> str:
        return self.causes[cause_id][lang]

    def __post_init__(self) -> None:
        # Variants of one code, the context variants first so that the default comes last.
        groups: dict[tuple[str, str], list[Entry]] = {}
        for entry in self.entries:
            if entry.kind not in MESSAGE_KINDS:
                groups.setdefault((entry.kind, entry.code), []).append(entry)
        index = {
            key: tuple(sorted(group, key=lambda e: e.context is None))
            for key, group in groups.items()
        }
        object.__setattr__(self, "_index", index)


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"errors.toml: {where}: {problem}")


def _compile(where: str, pattern: object) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise _fail(where, f"pattern must be a non-empty string, not {pattern!r}")
    if _UNBOUNDED.search(pattern):
        raise _fail(where, f"pattern {pattern!r} has an unbounded wildcard; use {{0,n}}")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise _fail(where, f"pattern {pattern!r} does not compile: {exc}") from exc


def _str(where: str, raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{key} is missing or empty")
    return value


def _entry(index: int, raw: object, causes: Mapping[str, object]) -> Entry:
    if not isinstance(raw, dict):
        raise _fail(f"error #{index}", "is not a table")
    where = f"error #{index} ({raw.get('code', '?')})"
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    code = _str(where, raw, "code")
    kind = _str(where, raw, "kind")
    if kind not in KINDS:
        raise _fail(where, f"unknown kind {kind!r}")
    cause_id = _str(where, raw, "cause_id")
    if cause_id not in causes:
        raise _fail(where, f"unknown cause_id {cause_id!r}")
    confidence = _str(where, raw, "confidence")
    if confidence not in CONFIDENCES:
        raise _fail(where, f"unknown confidence {confidence!r}")
    texts = {
        f"{name}_{lang}": _str(where, raw, f"{name}_{lang}")
        for name in TEXT_FIELDS
        for lang in LANGS
    }
    patterns: tuple[re.Pattern[str], ...] = ()
    lang: Lang | None = None
    if kind in MESSAGE_KINDS:
        if not _ID.fullmatch(code):
            raise _fail(where, "a message entry's code must be an id ([a-z0-9_]+)")
        raw_patterns = raw.get("patterns")
        if not isinstance(raw_patterns, list) or not raw_patterns:
            raise _fail(where, "a message entry needs a non-empty patterns list")
        patterns = tuple(_compile(where, p) for p in raw_patterns)
        raw_lang = raw.get("lang")
        if raw_lang not in LANGS:
            raise _fail(where, f"lang must be one of {LANGS}, not {raw_lang!r}")
        lang = cast(Lang, raw_lang)
    else:
        if not _CODE_FORMS[kind].fullmatch(code):
            raise _fail(where, f"code {code!r} is not a normalised {kind} code")
        if "patterns" in raw or "lang" in raw:
            raise _fail(where, "patterns and lang belong to message entries only")
    context = _compile(where, raw["context"]) if "context" in raw else None
    if context is not None and kind in MESSAGE_KINDS:
        raise _fail(where, "context belongs to code entries only")
    replies = raw.get("replies", {})
    if not isinstance(replies, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in replies.items()
    ):
        raise _fail(where, "replies must be a table of strings")
    if replies and not (kind == "outlook" and code.endswith("X")):
        raise _fail(where, "replies belong to an Outlook family entry (0x…X) only")
    headline = raw.get("headline", False)
    if not isinstance(headline, bool) or (headline and kind not in MESSAGE_KINDS):
        raise _fail(where, "headline is a boolean of message entries only")
    return Entry(
        code=code,
        kind=cast(Kind, kind),
        cause_id=cause_id,
        confidence=confidence,
        source=_str(where, raw, "source"),
        texts=texts,
        patterns=patterns,
        lang=lang,
        context=context,
        replies=dict(replies),
        headline=headline,
    )


def _labels(section: str, raw: object) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise _fail(f"[{section}]", "is missing or not a table")
    out: dict[str, dict[str, str]] = {}
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise _fail(f"[{section}] {key}", "is not a table of ja/en texts")
        out[key] = {lang: _str(f"[{section}] {key}", value, lang) for lang in LANGS}
    return out


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """Validate parsed TOML and build the catalog; raises ValueError naming the bad entry."""
    causes = _labels("causes", data.get("causes"))
    missing = REQUIRED_CAUSES - set(causes)
    if missing:
        raise _fail("[causes]", f"required cause ids missing: {sorted(missing)}")
    raw_entries = data.get("error")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise _fail("[[error]]", "no entries")
    entries = tuple(_entry(i, raw, causes) for i, raw in enumerate(raw_entries))
    catalog = Catalog(entries=entries, causes=causes, labels=_labels("labels", data.get("labels")))
    _check_variants(catalog)
    return catalog


def _check_variants(catalog: Catalog) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in catalog.entries:
        key = (entry.kind, entry.code)
        if entry.kind in MESSAGE_KINDS:
            if key in seen:
                raise _fail(entry.code, "duplicate message id")
            seen.add(key)
            continue
        defaults = [e for e in catalog.variants(entry.kind, entry.code) if e.context is None]
        if len(defaults) != 1:
            raise _fail(
                f"{entry.kind} {entry.code}",
                f"needs exactly one variant without context, has {len(defaults)}",
            )
        for reply in entry.replies.values():
            if reply and not catalog.variants("smtp", reply):
                raise _fail(entry.code, f"replies names {reply}, which has no smtp entry")


@cache
def load_catalog() -> Catalog:
    """The packaged catalog, parsed once per process."""
    text = resources.files("bot.knowledge").joinpath(DATA_FILE).read_text("utf-8")
    return parse_catalog(tomllib.loads(text))


def load_catalog_file(path: str | PathLike[str]) -> Catalog:
    """A catalog from another file (tests, tooling); not cached."""
    return parse_catalog(tomllib.loads(Path(path).read_text("utf-8")))
