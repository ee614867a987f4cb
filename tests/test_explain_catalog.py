"""The error knowledge base (bot/knowledge/errors.toml) as data: every row valid and explained in
both languages, the promised vocabulary and codes present, and the loader's refusal of bad rows.
"""

from __future__ import annotations

import copy
import re
import tomllib
from importlib import resources
from typing import Any

import pytest

from bot.explain.catalog import (
    CONFIDENCES,
    KINDS,
    MESSAGE_KINDS,
    REQUIRED_CAUSES,
    Entry,
    load_catalog,
    parse_catalog,
)

CATALOG = load_catalog()
RAW: dict[str, Any] = tomllib.loads(
    resources.files("bot.knowledge").joinpath("errors.toml").read_text("utf-8")
)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KANA = re.compile(r"[\u3040-\u30ff]")
# How an unverified meaning must be worded: as likely, never as fact.
HEDGE_EN = re.compile(r"\b(?:likely|often|probably|usually|commonly|may|most often)\b", re.I)
HEDGE_JA = re.compile(r"思われ|多くの場合|おそらく|と言われ|可能性|ことがあります")


def words(text: str) -> list[str]:
    return text.split()


# The codes issue 4 and its brief list, as the catalog spells them.
ISSUE_CODES = {
    "outlook": words(
        "0x800CCC0D 0x800CCC0E 0x800CCC0F 0x800CCC10 0x800CCC11 0x800CCC13 0x800CCC18 0x800CCC19"
        " 0x800CCC1A 0x800CCC6X 0x800CCC78 0x800CCC79 0x800CCC7C 0x800CCC7D 0x800CCC7F 0x800CCC90"
        " 0x800CCC91 0x800CCC92 0x800CCCD1 0x800CCCDD 0x800CCCDF 0x80042108 0x80042109 0x8004210A"
        " 0x8004210B"
    ),
    "smtp": words("421 450 451 452 454 500 501 502 503 504 530 534 535 550 551 552 553 554"),
    "enhanced": words(
        "4.2.2 5.2.2 5.1.1 5.1.2 5.1.3 5.1.6 5.1.10 5.2.1 5.3.4 5.2.3 4.4.1 4.4.2 4.4.7 5.4.4"
        " 5.5.X 5.7.0 5.7.1 5.7.8 5.7.9 5.7.11 4.7.12 5.7.20 5.7.21 5.7.22 5.7.23 5.7.24 5.7.25"
        " 5.7.26 5.7.27 4.7.0 4.7.24 4.7.27 4.7.28 4.7.30 5.7.30 5.4.5 5.7.3 5.7.139 5.7.57"
        " 5.7.60 5.7.515"
    ),
}
# Texts the issue names, each with the cause it must be explained by.
ISSUE_MESSAGES = [
    ("Application-specific password required", "app_password_required"),
    ("Username and Password not accepted", "auth_failed"),
    ("p=InvalidSecondFactor", "app_password_required"),
    (
        "The user you are trying to contact is receiving mail at a rate that prevents",
        "rate_limited",
    ),
    ("SmtpClientAuthentication is disabled for the Tenant", "basic_auth_disabled"),
    ("Basic authentication is not supported for Client Submission", "basic_auth_disabled"),
    ("メールを取得できません", "cannot_connect"),
    ("サーバへの接続に失敗しました。", "cannot_connect"),
    ("送信済みメールを送信できません", "cannot_connect"),
    ("サーバの識別情報を検証できません", "tls_failed"),
    ("Cannot Get Mail", "cannot_connect"),
    ("Cannot Send Mail", "cannot_connect"),
    ("The connection to the server failed.", "cannot_connect"),
    ("Cannot Verify Server Identity", "tls_failed"),
    ('サーバー"smtp.gmail.com"によって拒否されました。', "auth_required"),
    ("送信 (SMTP) サーバーへの接続に失敗しました。", "cannot_connect"),
    ("受信 (POP3) サーバーへの接続に失敗しました。", "cannot_connect"),
    (
        "Your server does not support the connection encryption type you have specified.",
        "tls_failed",
    ),
    ("Sending of the message failed.", "cannot_connect"),
    ('Login to server imap.example.com with username "taro" failed.', "auth_failed"),
    (
        "The connection was refused when attempting to connect to smtp.example.com.",
        "cannot_connect",
    ),
    ("The operation timed out.", "timeout"),
    ("Couldn't sign in", "auth_failed"),
    ("Authentication failed", "auth_failed"),
    ("ログインできませんでした", "auth_failed"),
]


def entries() -> list[Entry]:
    return list(CATALOG.entries)


def entry_id(entry: Entry) -> str:
    return f"{entry.kind}:{entry.code}"


# ---------------------------------------------------------------------------- every row


def test_the_catalog_loads_and_is_not_trivial() -> None:
    assert len(CATALOG.entries) >= 150
    assert len(CATALOG.messages) >= 50


@pytest.mark.parametrize("entry", entries(), ids=entry_id)
def test_every_entry_is_complete_in_both_languages(entry: Entry) -> None:
    assert entry.kind in KINDS
    assert entry.confidence in CONFIDENCES
    assert entry.source.strip()
    for name in ("meaning", "cause", "fix"):
        ja, en = entry.texts[f"{name}_ja"], entry.texts[f"{name}_en"]
        assert ja.strip() and en.strip()
        assert JAPANESE.search(ja), f"{name}_ja has no Japanese: {ja!r}"
        assert not KANA.search(en), f"{name}_en contains Japanese: {en!r}"
        assert "  " not in ja and "  " not in en


@pytest.mark.parametrize("entry", entries(), ids=entry_id)
def test_every_cause_is_in_the_vocabulary(entry: Entry) -> None:
    assert entry.cause_id in CATALOG.causes


def test_the_vocabulary_holds_the_issue_causes_with_labels() -> None:
    assert set(CATALOG.causes) >= REQUIRED_CAUSES
    for cause, labels in CATALOG.causes.items():
        assert re.fullmatch(r"[a-z_]+", cause)
        assert JAPANESE.search(labels["ja"]) and labels["en"].strip()


def test_every_cause_of_the_vocabulary_is_used() -> None:
    used = {entry.cause_id for entry in CATALOG.entries}
    assert set(CATALOG.causes) == used


def test_every_added_cause_is_documented_at_the_top_of_the_file() -> None:
    text = resources.files("bot.knowledge").joinpath("errors.toml").read_text("utf-8")
    header = text.split("\n[causes]\n", 1)[0]
    for cause in set(CATALOG.causes) - REQUIRED_CAUSES:
        assert re.search(rf"^#\s+{cause}\s", header, re.M), cause


@pytest.mark.parametrize(
    "entry", [e for e in entries() if e.confidence == "unverified"], ids=entry_id
)
def test_unverified_meanings_are_worded_as_likely(entry: Entry) -> None:
    assert HEDGE_EN.search(entry.texts["meaning_en"] + " " + entry.texts["cause_en"])
    assert HEDGE_JA.search(entry.texts["meaning_ja"] + entry.texts["cause_ja"])


@pytest.mark.parametrize("entry", [e for e in entries() if e.kind in MESSAGE_KINDS], ids=entry_id)
def test_message_patterns_compile_and_fit_their_language(entry: Entry) -> None:
    assert entry.patterns
    for pattern in entry.patterns:
        assert pattern.flags & re.IGNORECASE
        assert pattern.search("") is None, "a pattern must not match empty text"
        if entry.lang == "ja":
            assert JAPANESE.search(pattern.pattern), pattern.pattern


def test_message_ids_are_unique() -> None:
    ids = [e.code for e in CATALOG.messages]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("kind", "code"), [(k, c) for k, cs in ISSUE_CODES.items() for c in cs])
def test_the_issue_codes_are_all_present(kind: str, code: str) -> None:
    assert CATALOG.variants(kind, code), f"{kind} {code} missing"  # type: ignore[arg-type]


def test_every_code_has_one_default_and_its_variants_have_context() -> None:
    for entry in CATALOG.entries:
        if entry.kind in MESSAGE_KINDS:
            continue
        variants = CATALOG.variants(entry.kind, entry.code)
        assert variants[-1].context is None
        assert all(v.context is not None for v in variants[:-1])


def test_the_outlook_reply_family_maps_all_sixteen_codes() -> None:
    (family,) = CATALOG.variants("outlook", "0x800CCC6X")
    assert sorted(family.replies) == [f"6{d}" for d in "0123456789ABCDEF"]
    assert family.replies["69"] == "550" and family.replies["6F"] == "554"
    assert "{reply}" in family.texts["meaning_ja"] and "{reply}" in family.texts["meaning_en"]


def test_5_7_27_explains_both_meanings() -> None:
    default = CATALOG.variants("enhanced", "5.7.27")[-1]
    assert "RFC 7505" in default.texts["meaning_en"] and "Gmail" in default.texts["meaning_en"]
    assert "RFC 7505" in default.texts["meaning_ja"]
    causes = {v.cause_id for v in CATALOG.variants("enhanced", "5.7.27")}
    assert causes == {"spf_fail", "null_mx"}


@pytest.mark.parametrize(("text", "cause"), ISSUE_MESSAGES)
def test_the_issue_messages_are_recognised(text: str, cause: str) -> None:
    from bot.explain.matcher import find_codes

    matches = [m for m in find_codes(text) if m.kind in MESSAGE_KINDS]
    assert matches, text
    assert matches[0].cause_id == cause


def test_labels_exist_in_both_languages() -> None:
    for key in ("title", "meaning", "cause", "fix", "nothing_found", "bounce_title"):
        assert CATALOG.label(key, "ja") and CATALOG.label(key, "en")
    for kind in KINDS:
        assert CATALOG.label(f"kind_{kind}", "ja")


# ---------------------------------------------------------------------- refusing bad data


def broken(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    data["error"][1].update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"kind": "pager"}, "unknown kind"),
        ({"cause_id": "gremlins"}, "unknown cause_id"),
        ({"confidence": "rumour"}, "unknown confidence"),
        ({"fix_en": ""}, "fix_en is missing"),
        ({"meaning_ja": "   "}, "meaning_ja is missing"),
        ({"code": "0x800ccc0e"}, "not a normalised outlook code"),
        ({"patterns": ["x"]}, "message entries only"),
        ({"surprise": 1}, "unknown keys"),
        ({"context": "(unclosed"}, "does not compile"),
        ({"context": "a.*b"}, "unbounded"),
    ],
)
def test_bad_entries_are_refused_by_name(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)) as info:
        parse_catalog(broken(**changes))
    assert "0x800CCC0E" in str(info.value) or "error #1" in str(info.value)


def test_a_bad_message_pattern_is_refused_by_name() -> None:
    data = copy.deepcopy(RAW)
    message = next(e for e in data["error"] if e["kind"] == "provider_message")
    message["patterns"] = ["ok", "[unclosed"]
    with pytest.raises(ValueError, match=re.escape(message["code"])):
        parse_catalog(data)


def test_a_message_without_language_is_refused() -> None:
    data = copy.deepcopy(RAW)
    message = next(e for e in data["error"] if e["kind"] == "client_message")
    del message["lang"]
    with pytest.raises(ValueError, match="lang must be"):
        parse_catalog(data)


def test_a_missing_required_cause_is_refused() -> None:
    data = copy.deepcopy(RAW)
    del data["causes"]["null_mx"]
    with pytest.raises(ValueError, match="null_mx"):
        parse_catalog(data)


def test_two_defaults_for_one_code_are_refused() -> None:
    data = copy.deepcopy(RAW)
    data["error"].append(copy.deepcopy(data["error"][1]))
    with pytest.raises(ValueError, match="exactly one variant without context"):
        parse_catalog(data)
