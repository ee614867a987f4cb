"""The evaluation set of `mail-doctor explain`: labelled error texts, bounces and header blocks.

These tests check the data only, never the explainer: every line of
bot/knowledge/data/explain-cases.jsonl is valid, its labels can be checked against its own
text, and the set is big and varied enough to measure with.

Conventions of the set (what a label means):

- `kind`: `code` is an app dialog or log centred on an error code (Outlook / Outlook Express /
  Windows Live Mail codes, or a generic server's SMTP reply); `provider_message` is the reply text
  of one big provider (Gmail / Google Workspace, Microsoft 365 / Outlook.com, Yahoo! JAPAN, a
  carrier); `client_message` is a mail app's own words; `bounce` is a whole or partial bounce
  (non-delivery report); `headers` is a pasted header block.
- `expect_codes`: every Outlook-style and enhanced status code in the text, normalised
  (`0x800CCC0E`, `5.1.1`), plus the SMTP reply codes (`550`) that carry the error. Order: the
  code that identifies the cause best first — the server's enhanced code, then its reply code,
  then the client's own code. Winsock numbers (10060), POP3 `-ERR` and app-internal numbers are
  not codes.
- `expect_cause_ids`: the first id is the cause the explainer must put first; the others are
  acceptable alternatives. For headers: the failing checks (softfail and permerror count as an
  SPF failure; `none` is absence, not failure), `dmarc_fail` first when DMARC fails.
- `expect_delay_hop` (headers only): index of the slowest hop among the `Received:` lines, 0 =
  the oldest (bottom) one. The delay of hop i is its time minus hop i-1's; hop 0 is measured from
  the `Date:` header. `X-Received:` and `ARC-*` lines are not hops.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import unicodedata
from collections import Counter
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonl import read_numbered

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = ROOT / "bot" / "knowledge" / "data" / "explain-cases.jsonl"

KINDS = ("code", "client_message", "provider_message", "bounce", "headers")
LANGS = ("ja", "en")
CAUSE_IDS = (
    "recipient_unknown", "domain_not_found", "mailbox_full", "message_too_large",
    "mailbox_disabled", "relay_denied", "sender_rejected", "auth_failed",
    "app_password_required", "basic_auth_disabled", "tls_required", "tls_failed",
    "cannot_connect", "server_not_found", "connection_dropped", "timeout", "spf_fail",
    "dkim_fail", "dmarc_fail", "no_ptr", "rate_limited", "spam_blocked", "greylisted",
    "null_mx", "delivery_expired", "quota_sending_limit",
)  # fmt: skip
AUTH_CAUSES = frozenset({"spf_fail", "dkim_fail", "dmarc_fail"})
REQUIRED_KEYS = frozenset({"text", "lang", "kind", "expect_codes", "expect_cause_ids", "note"})
OPTIONAL_KEYS = frozenset({"expect_recipient", "expect_delay_hop"})

MIN_CASES = 170
MIN_BOUNCES = 35
MIN_HEADERS = 15
MIN_JA = 60
JA_SHARE = (0.55, 0.70)  # "about 60 %"

# The normalised forms of a code.
OUTLOOK_FORM = re.compile(r"0x[0-9A-F]{8}")
ENHANCED_FORM = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
SMTP_FORM = re.compile(r"[245]\d\d")

# Codes as they occur in text (after NFKC, any case).
_OUTLOOK_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])0x[0-9A-Fa-f]{8}(?![0-9A-Za-z])")
_ENHANCED_IN_TEXT = re.compile(r"(?<![\w.])[245]\.\d{1,3}\.\d{1,3}(?!\w|\.\d)", re.ASCII)

# The codes and cause ids the brief names: each must be expected somewhere in the set.
REQUIRED_CODES = (
    "0x800CCC0D", "0x800CCC0E", "0x800CCC0F", "0x800CCC1A", "0x800CCC78", "0x800CCC79",
    "0x800CCC90", "0x800CCC92", "0x80042108", "0x80042109", "0x8004210A", "0x8004210B",
    "421", "450", "451", "452", "4.2.2", "5.2.2", "5.1.1", "5.1.2", "5.1.10", "5.3.4", "5.7.0",
    "5.7.1", "5.7.8", "5.7.9", "5.7.23", "5.7.24", "5.7.25", "5.7.26", "5.7.27", "4.7.0",
    "4.4.7", "4.7.27", "4.7.28", "5.4.5", "5.7.139", "5.7.3", "5.7.30",
)  # fmt: skip

# Texts the brief names: each must occur in some case (compared after NFKC, any case).
REQUIRED_SNIPPETS = (
    "がエラー (0x800CCC0E) を報告しました", "サーバーに接続できませんでした",
    "reported error (0x800CCC0E)", "Cannot connect to the server",
    "p=InvalidSecondFactor", "Username and Password not accepted", "BadCredentials",
    "SmtpClientAuthentication is disabled for the Tenant",
    "Basic authentication is not supported for Client Submission",
    "Daily user sending limit exceeded",
    "メールを取得できません", "サーバへの接続に失敗しました", "サーバの識別情報を検証できません",
    "Cannot Get Mail", "The connection to the server failed.", "Cannot Verify Server Identity",
    "によって拒否されました", "送信 (SMTP) サーバーへの接続に失敗しました",
    "Sending of the message failed.", "The connection was refused when attempting to connect to",
    "The operation timed out while trying to connect to", "Login to server",
    "Couldn't sign in", "ユーザー名またはパスワードが正しくありません",
    # bounces
    "Final-Recipient: rfc822;", "message/delivery-status", "This is the mail system at host",
    "(in reply to RCPT TO command)", "Host or domain name not found",
    "delivery temporarily suspended",
    "次の受信者またはグループへの配信に失敗しました", "リモート サーバーから返された内容",
    "RESOLVER.ADR.RecipientNotFound", "アドレスが見つかりませんでした", "Address not found",
    "because the address couldn't be found",
    "The recipient server did not accept our requests to connect",
    "宛先不明のため配送できませんでした", "このメールは配信できませんでした", "Failure Notice",
    # headers
    "Received-SPF:", "Authentication-Results:",
)  # fmt: skip

# Plausible causes per code: the first expected cause must be one of those of its codes
# (codes missing here are not checked). It catches slips such as 5.1.1 labelled mailbox_full.
PLAUSIBLE: dict[str, frozenset[str]] = {
    code: frozenset(causes.split())
    for code, causes in {
        "0x800CCC0D": "server_not_found cannot_connect",
        "0x800CCC0E": "cannot_connect timeout server_not_found",
        "0x800CCC0F": "connection_dropped tls_failed tls_required cannot_connect timeout",
        "0x800CCC13": "cannot_connect",
        "0x800CCC18": "auth_failed",
        "0x800CCC1A": "tls_failed tls_required",
        "0x800CCC6D": "message_too_large",
        "0x800CCC78": "sender_rejected auth_failed relay_denied tls_required",
        "0x800CCC79": "relay_denied recipient_unknown spam_blocked",
        "0x800CCC90": "auth_failed mailbox_disabled",
        "0x800CCC92": "auth_failed app_password_required basic_auth_disabled",
        "0x80042108": "cannot_connect server_not_found timeout",
        "0x80042109": "cannot_connect server_not_found timeout",
        "0x8004210A": "timeout cannot_connect",
        "0x8004210B": "timeout cannot_connect message_too_large",
        "5.1.1": "recipient_unknown spam_blocked",
        "5.1.2": "domain_not_found",
        "5.1.3": "recipient_unknown",
        "5.1.10": "null_mx recipient_unknown",
        "5.1.90": "quota_sending_limit",
        "5.2.1": "mailbox_disabled",
        "4.2.2": "mailbox_full",
        "5.2.2": "mailbox_full",
        "5.3.4": "message_too_large",
        "4.4.1": "delivery_expired cannot_connect timeout",
        "4.4.2": "timeout connection_dropped cannot_connect",
        "4.4.7": "delivery_expired cannot_connect timeout",
        "5.4.1": "recipient_unknown relay_denied",
        "5.4.4": "domain_not_found null_mx",
        "5.4.5": "quota_sending_limit",
        "5.7.0": "tls_required auth_failed",
        "4.7.0": "greylisted rate_limited tls_failed tls_required spam_blocked",
        "5.7.1": "relay_denied spam_blocked sender_rejected",
        "4.7.1": "greylisted relay_denied rate_limited",
        "5.7.3": "auth_failed basic_auth_disabled",
        "5.7.8": "auth_failed",
        "5.7.9": "app_password_required",
        "5.7.23": "spf_fail",
        "4.7.23": "spf_fail no_ptr",
        "5.7.24": "spf_fail",
        "5.7.25": "no_ptr",
        "5.7.26": "dmarc_fail spf_fail dkim_fail",
        "5.7.27": "spf_fail null_mx",
        "4.7.27": "spf_fail",
        "4.7.28": "rate_limited",
        "5.7.30": "basic_auth_disabled dkim_fail",
        "4.7.30": "dkim_fail",
        "5.7.139": "basic_auth_disabled",
        "5.7.509": "dmarc_fail",
        "5.7.515": "dmarc_fail spf_fail dkim_fail",
    }.items()
}

# Privacy: only reserved example names and documentation addresses, apart from the public
# service names that provider texts really contain (support URLs, MX and submission hosts).
RESERVED_DOMAINS = (
    "example.com", "example.net", "example.org", "example.jp", "example.co.jp", "example.ne.jp",
)  # fmt: skip
RECIPIENT_DOMAINS = ("example.com", "example.jp", "example.co.jp", "example.ne.jp")
PROVIDER_DOMAINS = (
    "google.com", "gmail.com", "outlook.com", "office365.com", "microsoft.com", "live.com",
    "aka.ms", "spamhaus.org",
)  # fmt: skip
DOC_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
_RECIPIENT = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+$")
_HOSTNAME = re.compile(
    r"(?<![\w.\-])((?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:com|net|org|jp|ms|io|info))(?![\w\-])",
    re.IGNORECASE | re.ASCII,
)
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])", re.ASCII)

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")

# Headers.
_HEADER_START = re.compile(r"^([A-Za-z][A-Za-z0-9\-]*):", re.MULTILINE)
_AUTH_RESULT = re.compile(r"\b(spf|dkim|dmarc)=([a-z]+)", re.IGNORECASE)
SPF_FAILS = frozenset({"fail", "softfail", "permerror"})
DKIM_FAILS = frozenset({"fail", "permerror"})
DMARC_FAILS = frozenset({"fail"})


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def dedup_key(text: str) -> str:
    return " ".join(nfkc(text).casefold().split())


def code_form(code: str) -> str | None:
    for name, form in (("outlook", OUTLOOK_FORM), ("enhanced", ENHANCED_FORM), ("smtp", SMTP_FORM)):
        if form.fullmatch(code):
            return name
    return None


def code_in_text(code: str, text: str) -> bool:
    """The code occurs in the text as a whole token (5.1.1 is not found inside 5.1.10)."""
    folded = nfkc(text).casefold()
    pattern = (
        rf"(?<![0-9a-z]){re.escape(code.casefold())}(?![0-9a-z])"
        if code.startswith("0x")
        else rf"(?<![\w.]){re.escape(code)}(?!\w|\.\d)"
    )
    return re.search(pattern, folded, re.ASCII) is not None


def codes_found(text: str) -> set[str]:
    """Every Outlook-style and enhanced code in the text, normalised."""
    folded = nfkc(text)
    found = {"0x" + m.group()[2:].upper() for m in _OUTLOOK_IN_TEXT.finditer(folded)}
    found |= {m.group() for m in _ENHANCED_IN_TEXT.finditer(folded)}
    return found


def reserved(domain: str, allowed: tuple[str, ...]) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in allowed)


# ---------------------------------------------------------------- headers parsing


def header_fields(text: str) -> list[tuple[str, str]]:
    """(name, unfolded value) of every header line in a pasted block; prose lines are skipped."""
    fields: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and current is not None:
            current.append(line.strip())
            continue
        match = _HEADER_START.match(line)
        if match:
            current = [line[match.end() :].strip()]
            fields.append((match.group(1), current))
        else:
            current = None
    return [(name, " ".join(parts)) for name, parts in fields]


def parse_date(value: str) -> datetime:
    value = re.sub(r"\([^)]*\)", "", value).strip()
    return parsedate_to_datetime(value)


def received_times(text: str) -> list[datetime]:
    """Times of the Received lines, oldest first."""
    times = []
    for name, value in header_fields(text):
        if name.lower() == "received":
            assert ";" in value, f"Received line without a date: {value[:80]!r}"
            times.append(parse_date(value.rsplit(";", 1)[1]))
    return times[::-1]


def hop_delays(text: str) -> list[float]:
    times = received_times(text)
    dates = [v for n, v in header_fields(text) if n.lower() == "date"]
    first = (times[0] - parse_date(dates[0])).total_seconds() if dates else 0.0
    return [first] + [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def failing_checks(text: str) -> set[str]:
    """Cause ids of the failing checks in the topmost Authentication-Results / Received-SPF."""
    fields = header_fields(text)
    failing: set[str] = set()
    results = [v for n, v in fields if n.lower() == "authentication-results"]
    if results:
        for method, result in _AUTH_RESULT.findall(results[0]):
            method, result = method.lower(), result.lower()
            fails = {"spf": SPF_FAILS, "dkim": DKIM_FAILS, "dmarc": DMARC_FAILS}[method]
            if result in fails:
                failing.add(f"{method}_fail")
    spf = [v for n, v in fields if n.lower() == "received-spf"]
    if spf and spf[0].split()[0].lower() in SPF_FAILS:
        failing.add("spf_fail")
    return failing


# ---------------------------------------------------------------- loading


@cache
def load() -> tuple[tuple[int, dict[str, Any]], ...]:
    return read_numbered(CASES_FILE)


def where(number: int, obj: dict[str, Any]) -> str:
    first = str(obj.get("text", "")).strip().splitlines()[:1]
    return f"{CASES_FILE.name}:{number} {first[0][:60] if first else ''!r}"


# ---------------------------------------------------------------- shape of every line


def test_the_file_is_utf8_json_lines() -> None:
    raw = CASES_FILE.read_bytes()
    raw.decode("utf-8")
    assert raw.endswith(b"\n"), "the last line must end with a newline"
    assert len(load()) >= MIN_CASES, f"{len(load())} cases, need at least {MIN_CASES}"


def test_every_line_has_only_allowed_keys_and_values() -> None:
    for number, obj in load():
        at = where(number, obj)
        keys = set(obj)
        assert keys >= REQUIRED_KEYS, f"{at}: missing {sorted(REQUIRED_KEYS - keys)}"
        assert keys <= REQUIRED_KEYS | OPTIONAL_KEYS, (
            f"{at}: unknown keys {sorted(keys - REQUIRED_KEYS - OPTIONAL_KEYS)}"
        )
        assert isinstance(obj["text"], str) and obj["text"].strip(), f"{at}: empty text"
        assert obj["text"] == obj["text"].strip(), f"{at}: text has surrounding whitespace"
        assert obj["lang"] in LANGS, f"{at}: lang {obj['lang']!r}"
        assert obj["kind"] in KINDS, f"{at}: kind {obj['kind']!r}"
        assert isinstance(obj["note"], str) and obj["note"].strip(), f"{at}: empty note"
        codes, causes = obj["expect_codes"], obj["expect_cause_ids"]
        assert isinstance(codes, list) and all(isinstance(c, str) for c in codes), at
        assert isinstance(causes, list) and all(isinstance(c, str) for c in causes), at
        assert len(set(codes)) == len(codes), f"{at}: repeated code in {codes}"
        assert len(set(causes)) == len(causes), f"{at}: repeated cause in {causes}"
        unknown = [c for c in causes if c not in CAUSE_IDS]
        assert not unknown, f"{at}: cause ids outside the vocabulary: {unknown}"
        # expect_recipient on bounces only, expect_delay_hop on headers only
        assert ("expect_recipient" in obj) == (obj["kind"] == "bounce"), (
            f"{at}: expect_recipient belongs to bounces, and every bounce has one"
        )
        assert ("expect_delay_hop" in obj) == (obj["kind"] == "headers"), (
            f"{at}: expect_delay_hop belongs to header blocks, and every block has one"
        )


def test_codes_are_normalised() -> None:
    for number, obj in load():
        for code in obj["expect_codes"]:
            assert code_form(code), (
                f"{where(number, obj)}: {code!r} is not normalised "
                "(0x + 8 upper-case hex digits, d.d.d with class 2/4/5, or a 3-digit reply)"
            )


def test_every_expected_code_occurs_in_the_text() -> None:
    for number, obj in load():
        for code in obj["expect_codes"]:
            assert code_in_text(code, obj["text"]), (
                f"{where(number, obj)}: {code} is not in the text (after NFKC, any case)"
            )


def test_every_outlook_and_enhanced_code_in_the_text_is_expected() -> None:
    for number, obj in load():
        missing = codes_found(obj["text"]) - set(obj["expect_codes"])
        assert not missing, f"{where(number, obj)}: codes in the text but not expected: {missing}"


def test_every_error_has_a_cause_and_a_plausible_first_cause() -> None:
    for number, obj in load():
        at = where(number, obj)
        causes = obj["expect_cause_ids"]
        if obj["kind"] == "headers":
            continue
        assert causes, f"{at}: an error text needs at least one expected cause"
        known = [PLAUSIBLE[c] for c in obj["expect_codes"] if c in PLAUSIBLE]
        if known:
            allowed = frozenset().union(*known)
            assert causes[0] in allowed, (
                f"{at}: first cause {causes[0]} fits none of {obj['expect_codes']} "
                f"({sorted(allowed)})"
            )


def test_lang_matches_the_text() -> None:
    for number, obj in load():
        if obj["lang"] == "ja":
            assert _JAPANESE.search(nfkc(obj["text"])), (
                f"{where(number, obj)}: lang ja but no Japanese in the text"
            )


def test_no_duplicate_texts() -> None:
    seen: dict[str, int] = {}
    for number, obj in load():
        key = dedup_key(obj["text"])
        assert key not in seen, f"{where(number, obj)}: same text as line {seen[key]}"
        seen[key] = number


# ---------------------------------------------------------------- bounces


def test_bounces_name_a_recipient_that_is_in_the_text() -> None:
    for number, obj in load():
        if obj["kind"] != "bounce":
            continue
        at = where(number, obj)
        recipient = obj["expect_recipient"]
        assert isinstance(recipient, str) and _RECIPIENT.match(recipient), (
            f"{at}: expect_recipient {recipient!r} is not a lower-case address"
        )
        assert reserved(recipient.split("@")[1], RECIPIENT_DOMAINS), (
            f"{at}: {recipient} is not in {RECIPIENT_DOMAINS}"
        )
        assert recipient in nfkc(obj["text"]).casefold(), f"{at}: {recipient} is not in the text"


# ---------------------------------------------------------------- headers


def test_header_blocks_have_received_chains_and_results() -> None:
    for number, obj in load():
        if obj["kind"] != "headers":
            continue
        at = where(number, obj)
        names = [n.lower() for n, _ in header_fields(obj["text"])]
        assert names.count("received") >= 3, f"{at}: fewer than 3 Received lines"
        assert "date" in names, f"{at}: no Date header"
        assert "authentication-results" in names or "received-spf" in names, (
            f"{at}: no Authentication-Results or Received-SPF"
        )
        assert re.search(r"\n[ \t]+\S", obj["text"]), f"{at}: no folded header line"
        assert obj["expect_codes"] == [], f"{at}: a header block has no error codes"


def test_delay_hop_is_in_range_and_is_the_slowest_hop() -> None:
    for number, obj in load():
        if obj["kind"] != "headers":
            continue
        at = where(number, obj)
        hop = obj["expect_delay_hop"]
        delays = hop_delays(obj["text"])
        assert isinstance(hop, int) and not isinstance(hop, bool), f"{at}: hop must be an int"
        assert 0 <= hop < len(delays), f"{at}: hop {hop} outside 0..{len(delays) - 1}"
        others = [d for i, d in enumerate(delays) if i != hop]
        assert all(delays[hop] > d + 10 for d in others), (
            f"{at}: hop {hop} ({delays[hop]:.0f} s) is not clearly the slowest of {delays}"
        )


def test_header_causes_are_the_failing_checks() -> None:
    for number, obj in load():
        if obj["kind"] != "headers":
            continue
        at = where(number, obj)
        causes = obj["expect_cause_ids"]
        assert set(causes) <= AUTH_CAUSES, f"{at}: header causes must be SPF/DKIM/DMARC failures"
        failing = failing_checks(obj["text"])
        assert set(causes) == failing, (
            f"{at}: expected {causes}, the results in the text fail {sorted(failing)}"
        )
        if "dmarc_fail" in causes:
            assert causes[0] == "dmarc_fail", f"{at}: dmarc_fail goes first when DMARC fails"


def test_header_parsing_handles_zones_and_folding() -> None:
    """The helper the hop checks rely on: zones are normalised, folded dates are joined."""
    block = (
        "Received: from b by c with HTTPS; Wed, 14 May 2025 02:11:40\n +0000\n"
        "Received: from a (a [192.0.2.1])\n\tby b; Wed, 14 May 2025 11:00:00 +0900 (JST)\n"
        "Date: Wed, 14 May 2025 10:59:59 +0900\n"
    )
    assert hop_delays(block) == [1.0, 11 * 60 + 40.0]


# ---------------------------------------------------------------- privacy


def test_only_reserved_names_and_documentation_addresses() -> None:
    for number, obj in load():
        at = where(number, obj)
        text = nfkc(obj["text"])
        for match in _ADDRESS.finditer(text):
            assert reserved(match.group(1), RESERVED_DOMAINS), f"{at}: address {match.group()}"
        for match in _HOSTNAME.finditer(text):
            host = match.group(1)
            assert reserved(host, RESERVED_DOMAINS + PROVIDER_DOMAINS), f"{at}: host name {host}"
        for match in _IPV4.finditer(text):
            ip = ipaddress.ip_address(match.group())
            assert any(ip in net for net in DOC_NETS), f"{at}: IPv4 address {ip}"
        for match in _IPV6.finditer(text):
            token = match.group()
            if "::" not in token and token.count(":") < 5:
                continue  # a time of day such as 09:13:54
            ip = ipaddress.ip_address(token)
            assert any(ip in net for net in DOC_NETS), f"{at}: IPv6 address {ip}"


# ---------------------------------------------------------------- size and coverage


def test_counts_by_kind_and_language() -> None:
    rows = [obj for _, obj in load()]
    kinds = Counter(obj["kind"] for obj in rows)
    langs = Counter(obj["lang"] for obj in rows)
    assert kinds["bounce"] >= MIN_BOUNCES, f"{kinds['bounce']} bounces, need {MIN_BOUNCES}"
    assert kinds["headers"] >= MIN_HEADERS, f"{kinds['headers']} header blocks, need {MIN_HEADERS}"
    assert all(kinds[k] for k in KINDS), f"a kind is missing: {kinds}"
    assert langs["ja"] >= MIN_JA, f"{langs['ja']} Japanese cases, need {MIN_JA}"
    share = langs["ja"] / len(rows)
    assert JA_SHARE[0] <= share <= JA_SHARE[1], f"Japanese share {share:.0%}, want about 60 %"
    for kind in KINDS:
        both = {obj["lang"] for obj in rows if obj["kind"] == kind}
        assert both == set(LANGS), f"{kind}: needs both languages, has {both}"


def test_every_named_code_is_covered() -> None:
    expected = {c for _, obj in load() for c in obj["expect_codes"]}
    missing = [c for c in REQUIRED_CODES if c not in expected]
    assert not missing, f"codes the brief names but no case expects: {missing}"


def test_every_cause_id_is_a_first_cause_somewhere() -> None:
    first = Counter(obj["expect_cause_ids"][0] for _, obj in load() if obj["expect_cause_ids"])
    missing = [c for c in CAUSE_IDS if not first[c]]
    assert not missing, f"cause ids never expected first: {missing}"


def test_every_named_text_is_covered() -> None:
    texts = [nfkc(obj["text"]).casefold() for _, obj in load()]
    missing = [s for s in REQUIRED_SNIPPETS if not any(nfkc(s).casefold() in t for t in texts)]
    assert not missing, f"texts the brief names but no case contains: {missing}"


def test_bounces_cover_the_formats() -> None:
    bounces = [nfkc(obj["text"]) for _, obj in load() if obj["kind"] == "bounce"]
    formats = {
        "RFC 3464 report": lambda t: "message/delivery-status" in t and "boundary=" in t,
        "delivery-status fields": lambda t: "Final-Recipient:" in t and "Diagnostic-Code:" in t,
        "Postfix": lambda t: "This is the mail system at host" in t,
        "sendmail": lambda t: "The following addresses had permanent fatal errors" in t,
        "Exchange (en)": lambda t: "Remote Server returned" in t,
        "Exchange (ja)": lambda t: "リモート サーバーから返された内容" in t,
        "Gmail (en)": lambda t: "The response was:" in t or "The response from the remote" in t,
        "Gmail (ja)": lambda t: "応答:" in t,
        "Yahoo! JAPAN": lambda t: "Failure Notice" in t,
        "delayed warning": lambda t: "Action: delayed" in t,
        "Japanese ISP": lambda t: "宛先不明のため配送できませんでした" in t,
    }
    missing = [name for name, test in formats.items() if not any(test(t) for t in bounces)]
    assert not missing, f"bounce formats with no case: {missing}"
