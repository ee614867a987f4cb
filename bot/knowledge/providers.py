"""Mail-provider knowledge base: a typed loader and lookups for ``providers.toml``.

The TOML file is data, not code. Every server row is a hypothesis for the live probe, and rows
whose ``confidence`` is ``"unverified"`` must never be told to the user as fact.

Schema (one ``[[provider]]`` table per provider; unknown keys are rejected):

* ``id`` (``[a-z0-9_]+``, unique), ``name_ja``, ``name_en``.
* ``domains``: exact e-mail domains, lowercase ASCII (punycode for IDNs). Unique across providers.
* ``domain_patterns``: globs that must start with ``"*."``; they match sub-domains only, for
  providers whose customers get a sub-domain (``*.sakura.ne.jp``, ``*.onmicrosoft.com``).
* ``mx_patterns``: :mod:`fnmatch` globs on the lowest-preference MX host. When several match,
  the most specific pattern (most literal characters) wins.
* ``status``: :class:`Status`; ``confidence``: :class:`Confidence` of the provider-level claims
  (status, auth, username, hints).
* ``auth``: list of :class:`Auth`, most recommended first; ``[]`` means unknown.
* ``username``: :class:`Username`; omitted means unknown (``None``).
* ``hint_ja``/``hint_en``, ``doc_url``, ``source``: text. ``last_checked``: the date of the source,
  a TOML date (``2026-03-12``) or a ``"YYYY-MM-DD"`` string.
* Optional, in pairs (give both languages or neither; default ``""``):
  ``enable_ja``/``enable_en``: what must be switched on in the provider's web settings before a
  mail app can work (Yahoo! JAPAN 「IMAP/POP/SMTPアクセス」, Gmail "Enable POP");
  ``username_note_ja``/``username_note_en``: where the user name is not simply the address
  (docomo dアカウントID, iCloud local part for IMAP but the address for SMTP, Yahoo! JAPAN ID).
* ``[[provider.deprecations]]`` (optional, default none): dated changes that stop settings from
  working, each with ``date`` (when it takes or took effect, a TOML date or ``"YYYY-MM-DD"``;
  an approximate date is written as a day: "from October 2019" or "Q1 2026" as its first day,
  "end of December 2026" as its last day, and the texts say how exact it is),
  ``what_ja``, ``what_en``, ``confidence``, and optional ``source`` and ``last_checked`` (default:
  the provider's). A row whose confidence is ``"unverified"`` says 未確認 / "unverified" in its
  texts, like the hints.
* ``generic`` (optional bool, default false): a description of a kind of mail host rather than
  one provider (``generic_hosting``). It has no domains or patterns, is reached only through
  :meth:`ProviderDB.by_id`, and its servers never answer :meth:`ProviderDB.by_host`.
* ``[[provider.servers]]``, in order of preference within each protocol: ``protocol``, ``port``,
  ``security`` (same words as :class:`bot.model.Security`), ``confidence``, optional ``note``, and
  exactly one of ``host`` or ``host_pattern``. A ``host_pattern`` (with ``host`` absent) means
  the host differs per account and cannot be given; :attr:`ServerSetting.host` is then ``""``.
  Optional ``username`` and ``auth`` override the provider's values for that server.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from bot.model import Endpoint, Protocol, Security

__all__ = [
    "Auth",
    "Confidence",
    "Deprecation",
    "Provider",
    "ProviderDB",
    "ServerSetting",
    "Status",
    "Username",
    "load_providers",
    "load_providers_file",
    "normalize_domain",
    "parse_providers",
]

DATA_FILE = "providers.toml"


class Status(StrEnum):
    """Delta Chat's provider model."""

    OK = "ok"  # a mail app works with the normal password
    PREPARATION = "preparation"  # a step is needed first (app password, enable IMAP, ...)
    BROKEN = "broken"  # passwords do not work at all (OAuth2 only, or not usable from apps)


class Auth(StrEnum):
    PASSWORD = "password"  # the account's normal password
    APP_PASSWORD = "app_password"  # generated per app, usually needs 2-step verification
    OAUTH2 = "oauth2"  # the provider's sign-in page in the app
    PROVIDER_PASSWORD = "provider_password"  # a separate mail-only password (docomo IMAP専用)


class Username(StrEnum):
    ADDRESS = "address"  # the full e-mail address
    LOCALPART = "localpart"  # the part before the @
    ACCOUNT_ID = "account_id"  # a provider account ID the user must tell us (dアカウント ID)


class Confidence(StrEnum):
    """The markers of mail-facts.md: [src], [2nd], [unverified]."""

    VERIFIED = "verified"  # primary source: code, an official data file, a spec
    SECONDARY = "secondary"  # secondary web page or third-party data
    UNVERIFIED = "unverified"  # never state as fact; the live probe decides

    @property
    def may_state_as_fact(self) -> bool:
        return self is not Confidence.UNVERIFIED


_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def normalize_domain(text: str) -> str | None:
    """Lowercase ASCII (punycode) form of a domain as a user may type it, or None if unusable.

    Accepts full-width characters and Japanese full stops (IME input), surrounding or stray
    whitespace, a trailing dot, a leading ``@`` or a whole address, and Unicode (IDNA) names.
    """
    s = unicodedata.normalize("NFKC", text).translate(_DOTS)
    s = "".join(s.split()).rpartition("@")[2].strip(".").lower()
    if not s:
        return None
    if not s.isascii():
        try:
            s = s.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return s


@dataclass(frozen=True)
class ServerSetting:
    protocol: Protocol
    host: str  # "" when the host differs per account (see host_pattern)
    port: int
    security: Security
    confidence: Confidence
    note: str = ""
    host_pattern: str = ""  # fnmatch glob the per-account host matches, e.g. "sv*.xserver.jp"
    username: Username | None = None  # resolved: server override, else the provider's
    auth: tuple[Auth, ...] = ()  # resolved: server override, else the provider's

    @property
    def host_known(self) -> bool:
        return bool(self.host)

    def host_for(self, domain: str) -> str | None:
        """The host to probe for an address at ``domain``, or None if the user must tell us.

        A domain that itself matches ``host_pattern`` is taken as the host: Sakura's initial
        domain ``<initial>.sakura.ne.jp`` is both the mail domain and the server name.
        """
        if self.host:
            return self.host
        d = normalize_domain(domain)
        if d and self.host_pattern and fnmatch.fnmatchcase(d, self.host_pattern):
            return d
        return None

    def endpoint(self, host: str | None = None) -> Endpoint:
        """This setting as a probe target; ``host`` is required when the host is per account."""
        target = host or self.host
        if not target:
            raise ValueError(f"host differs per account ({self.host_pattern}); pass host=")
        return Endpoint(self.protocol, target, self.port, self.security)


@dataclass(frozen=True)
class Deprecation:
    """A dated change that stops settings from working (Outlook.com OAuth2-only, 2024-09-16)."""

    date: dt.date  # when it takes or took effect
    what_ja: str
    what_en: str
    confidence: Confidence
    last_checked: dt.date  # resolved: the row's own, else the provider's
    source: str = ""

    def what(self, lang: str = "ja") -> str:
        return self.what_ja if lang == "ja" else self.what_en

    def in_force(self, today: dt.date) -> bool:
        """True once ``today`` has reached the date (the change applies from that day on)."""
        return self.date <= _as_date(today)


def _as_date(value: dt.date) -> dt.date:
    # datetime is a date subclass but does not compare with one: take its calendar day.
    return value.date() if isinstance(value, dt.datetime) else value


@dataclass(frozen=True)
class Provider:
    id: str
    name_ja: str
    name_en: str
    status: Status
    confidence: Confidence
    auth: tuple[Auth, ...]
    username: Username | None
    servers: tuple[ServerSetting, ...]
    last_checked: dt.date
    domains: tuple[str, ...] = ()
    domain_patterns: tuple[str, ...] = ()
    mx_patterns: tuple[str, ...] = ()
    hint_ja: str = ""
    hint_en: str = ""
    doc_url: str = ""
    source: str = ""
    enable_ja: str = ""
    enable_en: str = ""
    username_note_ja: str = ""
    username_note_en: str = ""
    deprecations: tuple[Deprecation, ...] = ()  # in file order
    generic: bool = False

    def servers_for(self, protocol: Protocol | str) -> list[ServerSetting]:
        """Server settings for one protocol, most preferred first."""
        wanted = Protocol(protocol)
        return [s for s in self.servers if s.protocol is wanted]

    @property
    def oauth_only(self) -> bool:
        return self.auth == (Auth.OAUTH2,)

    def name(self, lang: str = "ja") -> str:
        return self.name_ja if lang == "ja" else self.name_en

    def hint(self, lang: str = "ja") -> str:
        return self.hint_ja if lang == "ja" else self.hint_en

    def enable(self, lang: str = "ja") -> str:
        """What to switch on in the provider's web settings first; "" if nothing is known."""
        return self.enable_ja if lang == "ja" else self.enable_en

    def username_note(self, lang: str = "ja") -> str:
        """How the user name differs from the plain address; "" if it does not."""
        return self.username_note_ja if lang == "ja" else self.username_note_en

    def deprecations_for(self, today: dt.date) -> list[Deprecation]:
        """The deprecations already in force on ``today``, newest first (ties keep file order).

        Check ``confidence`` before telling one to the user: unverified rows are not facts.
        """
        day = _as_date(today)
        in_force = [d for d in self.deprecations if d.date <= day]
        return sorted(in_force, key=lambda d: d.date, reverse=True)


def _specificity(pattern: str) -> int:
    return len(pattern) - pattern.count("*") - pattern.count("?")


class ProviderDB:
    """All providers, indexed for lookup. Construction rejects ambiguous data."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._providers = tuple(providers)
        self._by_id: dict[str, Provider] = {}
        self._by_domain: dict[str, Provider] = {}
        seen_patterns: dict[tuple[str, str], Provider] = {}
        for p in self._providers:
            if p.id in self._by_id:
                raise ValueError(f"duplicate provider id {p.id!r}")
            self._by_id[p.id] = p
            for d in p.domains:
                if (other := self._by_domain.get(d)) is not None:
                    raise ValueError(
                        f"provider {p.id!r}: domain {d!r} is already listed by {other.id!r}"
                    )
                self._by_domain[d] = p
            for kind, patterns in (("domain", p.domain_patterns), ("mx", p.mx_patterns)):
                for pat in patterns:
                    if (other := seen_patterns.get((kind, pat))) is not None:
                        raise ValueError(
                            f"provider {p.id!r}: {kind} pattern {pat!r} is already listed "
                            f"by {other.id!r}"
                        )
                    seen_patterns[(kind, pat)] = p
        # Most specific first, so *.olc.protection.outlook.com beats *.protection.outlook.com;
        # the sort is stable, so ties keep file order.
        self._domain_globs = self._globs(
            (pat, p) for p in self._providers for pat in p.domain_patterns
        )
        self._mx_globs = self._globs((pat, p) for p in self._providers for pat in p.mx_patterns)
        # A generic description (generic_hosting: mail.*) is not the provider of any host.
        specific = [p for p in self._providers if not p.generic]
        self._host_globs = self._globs(
            (s.host_pattern, p) for p in specific for s in p.servers if s.host_pattern
        )
        self._hosts = {s.host: p for p in reversed(specific) for s in p.servers if s.host}

    @staticmethod
    def _globs(pairs: Iterable[tuple[str, Provider]]) -> tuple[tuple[str, Provider], ...]:
        return tuple(sorted(pairs, key=lambda pair: -_specificity(pair[0])))

    @staticmethod
    def _match(name: str, globs: tuple[tuple[str, Provider], ...]) -> Provider | None:
        return next((p for pat, p in globs if fnmatch.fnmatchcase(name, pat)), None)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    def by_id(self, provider_id: str) -> Provider | None:
        return self._by_id.get(provider_id)

    def by_domain(self, domain: str) -> Provider | None:
        """The provider of an e-mail domain (or address); None if unknown.

        Exact domains only, plus sub-domains where the provider hands them out
        (``domain_patterns``): ``mail.gmail.com`` is not Gmail, ``foo.sakura.ne.jp`` is Sakura.
        """
        d = normalize_domain(domain)
        if d is None:
            return None
        return self._by_domain.get(d) or self._match(d, self._domain_globs)

    def by_mx(self, mx_host: str) -> Provider | None:
        """The provider hosting a custom domain, from its lowest-preference MX host.

        Call :meth:`by_domain` first: gmail.com's own MX (``*.l.google.com``) maps to Google
        Workspace here.
        """
        h = normalize_domain(mx_host)
        return None if h is None else self._match(h, self._mx_globs)

    def by_host(self, host: str) -> Provider | None:
        """The provider running a mail server host the user typed (``sv1234.xserver.jp``).

        A host several providers share (``smtp.gmail.com``) gives the first one in the file.
        """
        h = normalize_domain(host)
        if h is None:
            return None
        return self._hosts.get(h) or self._match(h, self._host_globs)

    def known_domains(self) -> frozenset[str]:
        """Every exact e-mail domain in the table (not the sub-domain patterns)."""
        return frozenset(self._by_domain)


# ---------------------------------------------------------------- loading and validation

_ID_RE = re.compile(r"[a-z0-9_]+")
_DOMAIN_RE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")
_GLOB_RE = re.compile(r"[a-z0-9*?-]+(\.[a-z0-9*?-]+)+")
_PROVIDER_KEYS = frozenset(
    {
        "id", "name_ja", "name_en", "domains", "domain_patterns", "mx_patterns", "status",
        "confidence", "auth", "username", "hint_ja", "hint_en", "doc_url", "last_checked",
        "source", "servers", "enable_ja", "enable_en", "username_note_ja", "username_note_en",
        "deprecations", "generic",
    }
)  # fmt: skip
_DEPRECATION_KEYS = frozenset(
    {"date", "what_ja", "what_en", "confidence", "source", "last_checked"}
)
_SERVER_KEYS = frozenset(
    {
        "protocol", "host", "host_pattern", "port", "security", "confidence", "note",
        "username", "auth",
    }
)  # fmt: skip


def _fail(where: str, message: str) -> NoReturn:
    raise ValueError(f"{where}: {message}")


def _check_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(unknown)} (typo?)")


def _str(table: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    if key not in table:
        if required:
            _fail(where, f"missing {key!r}")
        return ""
    value = table[key]
    if not isinstance(value, str) or (required and not value.strip()):
        _fail(where, f"{key!r} must be a non-empty string, got {value!r}")
    return value


def _str_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, f"{key!r} must be a list of strings, got {value!r}")
    return value


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: Any, key: str, where: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(m.value for m in kind)
        _fail(where, f"unknown {key} {value!r} (expected one of: {expected})")


def _date(value: Any, where: str, key: str = "last_checked") -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    _fail(where, f"{key!r} must be a date like 2026-03-12, got {value!r}")


def _text_pair(table: Mapping[str, Any], stem: str, where: str) -> tuple[str, str]:
    """``<stem>_ja`` and ``<stem>_en``: both non-empty, or both absent."""
    ja, en = f"{stem}_ja", f"{stem}_en"
    if (ja in table) != (en in table):
        _fail(where, f"give both {ja!r} and {en!r}, or neither")
    if ja not in table:
        return "", ""
    return _str(table, ja, where, required=True), _str(table, en, where, required=True)


def _parse_deprecation(raw: Any, index: int, where: str, last_checked: dt.date) -> Deprecation:
    where = f"{where} deprecation #{index}"
    if not isinstance(raw, dict):
        _fail(where, "must be a table ([[provider.deprecations]])")
    _check_keys(raw, _DEPRECATION_KEYS, where)
    if "date" not in raw:
        _fail(where, "missing 'date'")
    if "confidence" not in raw:
        _fail(where, "missing 'confidence'")
    return Deprecation(
        date=_date(raw["date"], where, "date"),
        what_ja=_str(raw, "what_ja", where, required=True),
        what_en=_str(raw, "what_en", where, required=True),
        confidence=_enum(Confidence, raw["confidence"], "confidence", where),
        last_checked=(_date(raw["last_checked"], where) if "last_checked" in raw else last_checked),
        source=_str(raw, "source", where),
    )


def _auth_list(table: Mapping[str, Any], where: str) -> tuple[Auth, ...]:
    auth = tuple(_enum(Auth, a, "auth", where) for a in _str_list(table, "auth", where))
    if len(set(auth)) != len(auth):
        _fail(where, f"duplicate entry in 'auth' {list(auth)}")
    return auth


def _username(table: Mapping[str, Any], where: str) -> Username | None:
    return _enum(Username, table["username"], "username", where) if "username" in table else None


def _parse_server(
    raw: Any, index: int, provider: str, auth: tuple[Auth, ...], username: Username | None
) -> ServerSetting:
    where = f"{provider} server #{index}"
    if not isinstance(raw, dict):
        _fail(where, "must be a table ([[provider.servers]])")
    _check_keys(raw, _SERVER_KEYS, where)
    protocol = _enum(Protocol, raw.get("protocol"), "protocol", where)
    host, host_pattern = _str(raw, "host", where).strip(), _str(raw, "host_pattern", where).strip()
    if bool(host) == bool(host_pattern):
        _fail(
            where,
            "give exactly one of 'host' or 'host_pattern' (pattern = host varies per account)",
        )
    if host and not _DOMAIN_RE.fullmatch(host):
        _fail(where, f"bad host {host!r} (lowercase ASCII host name expected)")
    if host_pattern and not _GLOB_RE.fullmatch(host_pattern):
        _fail(where, f"bad host_pattern {host_pattern!r}")
    port = raw.get("port")
    # bool is an int subclass: `port = true` must not pass as port 1.
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        _fail(where, f"bad port {port!r} (integer 1-65535 expected)")
    return ServerSetting(
        protocol=protocol,
        host=host,
        port=port,
        security=_enum(Security, raw.get("security"), "security", where),
        confidence=_enum(Confidence, raw.get("confidence"), "confidence", where),
        note=_str(raw, "note", where),
        host_pattern=host_pattern,
        username=_username(raw, where) or username,
        auth=_auth_list(raw, where) if "auth" in raw else auth,
    )


def _parse_provider(raw: Any, index: int, origin: str) -> Provider:
    where = f"{origin}: provider #{index}"
    if not isinstance(raw, dict):
        _fail(where, "must be a table ([[provider]])")
    pid = _str(raw, "id", where, required=True)
    where = f"{origin}: provider {pid!r}"
    if not _ID_RE.fullmatch(pid):
        _fail(where, "id must be lowercase letters, digits and '_'")
    _check_keys(raw, _PROVIDER_KEYS, where)

    domains = _str_list(raw, "domains", where)
    for d in domains:
        if not _DOMAIN_RE.fullmatch(d):
            _fail(where, f"bad domain {d!r} (lowercase ASCII/punycode, no '@' or trailing dot)")
    if len(set(domains)) != len(domains):
        _fail(where, "a domain is listed twice in 'domains'")
    domain_patterns = _str_list(raw, "domain_patterns", where)
    for pat in domain_patterns:
        if not pat.startswith("*.") or not _GLOB_RE.fullmatch(pat):
            _fail(where, f"bad domain pattern {pat!r} (must look like '*.example.jp')")
    mx_patterns = _str_list(raw, "mx_patterns", where)
    for pat in mx_patterns:
        if not _GLOB_RE.fullmatch(pat):
            _fail(where, f"bad mx pattern {pat!r}")
    generic = raw.get("generic", False)
    if not isinstance(generic, bool):
        _fail(where, f"'generic' must be true or false, got {generic!r}")
    if generic and (domains or domain_patterns or mx_patterns):
        _fail(where, "a generic entry has no domains, domain_patterns or mx_patterns")
    if not generic and not (domains or domain_patterns or mx_patterns):
        _fail(where, "needs at least one of domains, domain_patterns, mx_patterns")

    auth = _auth_list(raw, where)
    username = _username(raw, where)
    servers_raw = raw.get("servers", [])
    if not isinstance(servers_raw, list):
        _fail(where, "'servers' must be an array of tables ([[provider.servers]])")
    servers = tuple(
        _parse_server(s, i, where, auth, username) for i, s in enumerate(servers_raw, start=1)
    )
    if "last_checked" not in raw:
        _fail(where, "missing 'last_checked'")
    last_checked = _date(raw["last_checked"], where)
    deprecations_raw = raw.get("deprecations", [])
    if not isinstance(deprecations_raw, list):
        _fail(where, "'deprecations' must be an array of tables ([[provider.deprecations]])")
    deprecations = tuple(
        _parse_deprecation(d, i, where, last_checked)
        for i, d in enumerate(deprecations_raw, start=1)
    )
    enable_ja, enable_en = _text_pair(raw, "enable", where)
    username_note_ja, username_note_en = _text_pair(raw, "username_note", where)
    return Provider(
        id=pid,
        name_ja=_str(raw, "name_ja", where, required=True),
        name_en=_str(raw, "name_en", where, required=True),
        status=_enum(Status, raw.get("status"), "status", where),
        confidence=_enum(Confidence, raw.get("confidence"), "confidence", where),
        auth=auth,
        username=username,
        servers=servers,
        last_checked=last_checked,
        domains=tuple(domains),
        domain_patterns=tuple(domain_patterns),
        mx_patterns=tuple(mx_patterns),
        hint_ja=_str(raw, "hint_ja", where),
        hint_en=_str(raw, "hint_en", where),
        doc_url=_str(raw, "doc_url", where),
        source=_str(raw, "source", where),
        enable_ja=enable_ja,
        enable_en=enable_en,
        username_note_ja=username_note_ja,
        username_note_en=username_note_en,
        deprecations=deprecations,
        generic=generic,
    )


def parse_providers(text: str, *, origin: str = DATA_FILE) -> ProviderDB:
    """Parse and validate provider TOML; any problem raises ValueError naming the provider."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin}: invalid TOML: {exc}") from exc
    _check_keys(data, frozenset({"provider"}), origin)
    raw = data.get("provider")
    if not isinstance(raw, list) or not raw:
        _fail(origin, "expected one or more [[provider]] tables")
    try:
        return ProviderDB(_parse_provider(p, i, origin) for i, p in enumerate(raw, start=1))
    except ValueError as exc:
        if str(exc).startswith(origin):
            raise
        raise ValueError(f"{origin}: {exc}") from None


def load_providers_file(path: str | PathLike[str]) -> ProviderDB:
    """Load a provider table from a file (tests, or a locally edited copy)."""
    p = Path(path)
    return parse_providers(p.read_text(encoding="utf-8"), origin=str(p))


@cache
def load_providers() -> ProviderDB:
    """The bundled provider table, parsed once. Works from an installed package too."""
    text = resources.files("bot.knowledge").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse_providers(text, origin=DATA_FILE)
