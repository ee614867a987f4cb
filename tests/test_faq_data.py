"""The conversation data: labelled utterances (dev and held-out test sets) and the FAQ answers.

These tests check the data only, never a classifier: every line of
conversations/data/utterances-{dev,test}.jsonl has a valid label, the test set is big and varied
enough to measure with, the two sets share no sentence, and bot/knowledge/faq.toml answers every
topic the utterances can ask about, in both languages, among at least 60 topics, each with the ways
people actually ask it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonl import read_numbered

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "conversations" / "data"
FILES = {
    "dev": DATA / "utterances-dev.jsonl",
    "dev2": DATA / "utterances-dev2.jsonl",
    "dev3": DATA / "utterances-dev3.jsonl",
    "test": DATA / "utterances-test.jsonl",
}
FAQ_FILE = ROOT / "bot" / "knowledge" / "faq.toml"
APPS_FILE = ROOT / "conversations" / "apps.toml"

INTENTS = (
    "report_problem", "ask_question", "affirm", "deny", "dont_know", "provide_info", "restart",
    "back", "escalate", "stop", "greet", "thanks", "switch_language", "help",
)  # fmt: skip
# The topics the utterance sets label, each asked about in them; every one is an FAQ id.
TOPICS = (
    "how_mail_works", "smtp", "imap", "pop3", "imap_vs_pop3", "ports", "port_465_vs_587",
    "port_25", "ssl_tls", "starttls", "dns_mx", "op25b", "app_password", "oauth",
    "router_restart", "network_reset", "where_settings", "password_safety",
)  # fmt: skip
# Every FAQ id. Ids are public (the dialogue and the utterance sets refer to them), so this list
# only ever grows: an id that disappears or is renamed fails here.
FAQ_TOPICS = (
    *TOPICS,
    # bounces and delivery
    "bounce_message", "user_unknown", "domain_not_found", "mailbox_full", "attachment_size",
    "spam_folder", "delayed_mail", "greylisting", "sending_limits", "address_typo",
    # carrier filters and sender authentication
    "carrier_pc_mail_block", "carrier_spoofing_filter", "carrier_allow_list", "spf", "dkim",
    "dmarc", "sender_rules_2024", "reverse_dns", "forwarding_mailing_lists", "dns_propagation",
    # providers and dated changes
    "gmailify_pop_end", "gmail_in_other_apps", "google_workspace_passwords", "outlook_com_oauth",
    "m365_smtp_auth", "docomo_imap_password", "icloud_app_password", "yahoo_japan_access",
    "new_outlook_pop_imap", "windows_mail_retired",
    # settings
    "mail_server", "username_format", "smtp_auth", "pop_before_smtp", "leave_copy_on_server",
    "imap_folders_sync", "certificate_warning", "certificate_name_mismatch", "tls_old_apps",
    "outlook_error_codes", "wrong_password", "change_password_in_app", "sign_out_sign_in",
    "mailbox_migration", "backup_before_changes", "webmail_vs_app",
    # the device and the network
    "device_date_time", "antivirus_mail_scan", "vpn_public_wifi", "tethering_test",
    "contact_provider",
)  # fmt: skip
FAQ_MIN_TOPICS = 60
FAQ_KEYS = frozenset(
    {"title_ja", "title_en", "answer_ja", "answer_en", "questions_ja", "questions_en"}
)
QUESTIONS_PER_LANG = (3, 5)
QUESTION_MAX_CHARS = 120
# Japanese that an English answer may name: the screen label a person has to look for.
EN_ALLOWED_JAPANESE = ("IMAP専用パスワード",)
SYMPTOMS = ("send", "receive", "both")
STEPS = (
    "ask_symptom", "ask_connectivity", "ask_address", "ask_client", "ask_settings", "ask_resolved",
)  # fmt: skip
LANGS = ("ja", "en")
SECURITIES = ("ssl", "starttls", "none")
ENTITY_KEYS = ("address", "domain", "host", "port", "security", "app", "error_code")
REQUIRED_KEYS = frozenset({"text", "lang", "intent", "symptom", "topic"})
OPTIONAL_KEYS = frozenset({"entities", "step"})
# Only these intents may carry a symptom: a problem report, or information that names or
# corrects the direction (「いや、受信の方です」).
SYMPTOM_INTENTS = frozenset({"report_problem", "provide_info"})

TEST_MIN_TOTAL = 360
TEST_MIN_PER_INTENT = 20
TEST_MIN = {"ask_question": 60, "report_problem": 40, "provide_info": 40}
DEV_SIZE = (120, 180)  # "about 150"
DEV_MIN_PER_INTENT = 5
JA_SHARE = (0.6, 0.8)  # about 70 % Japanese
MIN_TEST_LINES_PER_TOPIC = 2

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_FULLWIDTH = re.compile(r"[\uff01-\uff5e]")
_ADDRESS = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}$")
_HOSTNAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}$")
_NONE_WORDS = ("なし", "無し", "オフ", "しない", "none", "no encryption", "off", "plain")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def exact_key(text: str) -> str:
    """The comparison the brief asks for: NFKC, then no whitespace at all."""
    return "".join(nfkc(text).split())


def near_key(text: str) -> str:
    """A stricter key for near-copies: also case, kana script, punctuation, symbols and ー."""
    folded = nfkc(text).casefold()
    folded = "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in folded)
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN" and c not in "ー～〜")


# ---------------------------------------------------------------- loading


@cache
def load(name: str) -> tuple[tuple[int, dict[str, Any]], ...]:
    """(line number, object) for every line; a line that is not a JSON object fails here."""
    return read_numbered(FILES[name])


@cache
def faq() -> dict[str, Any]:
    with FAQ_FILE.open("rb") as fh:
        return tomllib.load(fh)


@cache
def app_ids() -> frozenset[str] | None:
    """The mail-app ids of conversations/apps.toml, the vocabulary of the `app` entity."""
    if not APPS_FILE.is_file():
        return None
    with APPS_FILE.open("rb") as fh:
        return frozenset(tomllib.load(fh))


def all_rows() -> list[tuple[str, int, dict[str, Any]]]:
    return [(name, n, obj) for name in FILES for n, obj in load(name)]


@pytest.fixture(params=sorted(FILES))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ---------------------------------------------------------------- shape of every line


def test_every_line_has_only_allowed_keys_and_values(name: str) -> None:
    for number, obj in load(name):
        where = f"{FILES[name].name}:{number}"
        keys = set(obj)
        assert keys >= REQUIRED_KEYS, f"{where}: missing {sorted(REQUIRED_KEYS - keys)}"
        assert keys <= REQUIRED_KEYS | OPTIONAL_KEYS, (
            f"{where}: unknown keys {sorted(keys - REQUIRED_KEYS - OPTIONAL_KEYS)}"
        )
        text = obj["text"]
        assert isinstance(text, str) and text.strip(), f"{where}: text must be a non-empty string"
        assert text == text.strip(), f"{where}: text has surrounding whitespace"
        assert "\n" not in text, f"{where}: text spans lines"
        assert obj["lang"] in LANGS, f"{where}: lang {obj['lang']!r}"
        assert obj["intent"] in INTENTS, f"{where}: intent {obj['intent']!r}"
        assert obj["symptom"] is None or obj["symptom"] in SYMPTOMS, (
            f"{where}: symptom {obj['symptom']!r}"
        )
        assert obj["topic"] is None or obj["topic"] in TOPICS, f"{where}: topic {obj['topic']!r}"
        if "step" in obj:
            assert obj["step"] in STEPS, f"{where}: step {obj['step']!r}"
        if "entities" in obj:
            entities = obj["entities"]
            assert isinstance(entities, dict) and entities, f"{where}: entities must be non-empty"
            unknown = set(entities) - set(ENTITY_KEYS)
            assert not unknown, f"{where}: unknown entity keys {sorted(unknown)}"


def test_questions_have_a_topic_and_nothing_else_does(name: str) -> None:
    for number, obj in load(name):
        where = f"{FILES[name].name}:{number} {obj['text']!r}"
        if obj["intent"] == "ask_question":
            assert obj["topic"] in TOPICS, f"{where}: a question needs a topic"
        else:
            assert obj["topic"] is None, f"{where}: only ask_question lines have a topic"


def test_symptom_only_on_problems_and_information(name: str) -> None:
    for number, obj in load(name):
        if obj["symptom"] is not None:
            assert obj["intent"] in SYMPTOM_INTENTS, (
                f"{FILES[name].name}:{number} {obj['text']!r}: symptom on {obj['intent']}"
            )


def _neutral(obj: dict[str, Any]) -> bool:
    """A line with no words of any language: only an address or a host, maybe Slack-wrapped.

    Its `lang` is the language of the conversation it was typed in.
    """
    rest = nfkc(obj["text"]).casefold()
    for key in ("address", "host", "domain"):
        value = obj.get("entities", {}).get(key)
        if value:
            rest = rest.replace(value, "")
    for markup in ("mailto:", "https://", "http://"):
        rest = rest.replace(markup, "")
    return not re.search(r"[a-z]", rest)


def test_lang_matches_the_script(name: str) -> None:
    for number, obj in load(name):
        where = f"{FILES[name].name}:{number} {obj['text']!r}"
        text = obj["text"]
        if obj["lang"] == "ja":
            assert _JAPANESE.search(nfkc(text)) or _FULLWIDTH.search(text) or _neutral(obj), (
                f"{where}: labelled ja but has no Japanese or full-width characters"
            )
        else:
            assert not _JAPANESE.search(nfkc(text)), f"{where}: labelled en but has Japanese"


def test_entities_are_well_formed_and_come_from_the_text(name: str) -> None:
    ids = app_ids()
    for number, obj in load(name):
        entities = obj.get("entities")
        if not entities:
            continue
        where = f"{FILES[name].name}:{number} {obj['text']!r}"
        text = nfkc(obj["text"]).casefold()
        for key, value in entities.items():
            if key == "port":
                assert isinstance(value, int) and not isinstance(value, bool), f"{where}: port"
                assert 1 <= value <= 65535, f"{where}: port {value}"
                assert re.search(rf"(?<!\d){value}(?!\d)", text), f"{where}: port not in text"
                continue
            assert isinstance(value, str) and value.strip(), f"{where}: {key} must be a string"
            if key == "security":
                assert value in SECURITIES, f"{where}: security {value!r}"
                if value == "starttls":
                    assert "starttls" in text, f"{where}: starttls not in text"
                elif value == "ssl":
                    assert "ssl" in text or "tls" in text, f"{where}: ssl/tls not in text"
                else:
                    assert any(w in text for w in _NONE_WORDS), f"{where}: 'no encryption'?"
            elif key == "address":
                assert _ADDRESS.match(value), f"{where}: address {value!r}"
                assert value in text, f"{where}: address not in text"
            elif key in ("domain", "host"):
                assert _HOSTNAME.match(value), f"{where}: {key} {value!r}"
                assert value in text, f"{where}: {key} not in text"
            elif key == "error_code":
                assert value.casefold() in text, f"{where}: error code not in text"
            elif key == "app" and ids is not None:
                assert value in ids, f"{where}: app {value!r} is not an id of {APPS_FILE.name}"


# ---------------------------------------------------------------- size and spread


def _ja_share(rows: tuple[tuple[int, dict[str, Any]], ...]) -> float:
    return sum(obj["lang"] == "ja" for _, obj in rows) / len(rows)


def test_test_set_meets_the_minimums() -> None:
    rows = load("test")
    assert len(rows) >= TEST_MIN_TOTAL
    counts = Counter(obj["intent"] for _, obj in rows)
    for intent in INTENTS:
        minimum = TEST_MIN.get(intent, TEST_MIN_PER_INTENT)
        assert counts[intent] >= minimum, f"{intent}: {counts[intent]} < {minimum}"
    low, high = JA_SHARE
    assert low <= _ja_share(rows) <= high


def test_every_intent_has_both_languages_in_the_test_set() -> None:
    pairs = Counter((obj["intent"], obj["lang"]) for _, obj in load("test"))
    for intent in INTENTS:
        for lang in LANGS:
            assert pairs[intent, lang] >= 5, f"{intent}/{lang}: {pairs[intent, lang]}"


def test_dev_set_is_about_150_lines_with_the_same_spread() -> None:
    rows = load("dev")
    low, high = DEV_SIZE
    assert low <= len(rows) <= high
    counts = Counter(obj["intent"] for _, obj in rows)
    for intent in INTENTS:
        assert counts[intent] >= DEV_MIN_PER_INTENT, f"{intent}: {counts[intent]}"
    low_share, high_share = JA_SHARE
    assert low_share <= _ja_share(rows) <= high_share


def test_every_topic_is_asked_about() -> None:
    for name, minimum in (("test", MIN_TEST_LINES_PER_TOPIC), ("dev", 1)):
        topics = Counter(obj["topic"] for _, obj in load(name) if obj["intent"] == "ask_question")
        missing = {t: topics[t] for t in TOPICS if topics[t] < minimum}
        assert not missing, f"{name}: topics with fewer than {minimum} lines: {missing}"


def test_every_symptom_value_occurs_in_problem_reports() -> None:
    for name in FILES:
        seen = {obj["symptom"] for _, obj in load(name) if obj["intent"] == "report_problem"}
        assert seen == {*SYMPTOMS, None}, f"{name}: report_problem symptoms {seen}"


# ---------------------------------------------------------------- no duplicates, no near-copies


@pytest.mark.parametrize("key", [exact_key, near_key], ids=["nfkc", "near"])
def test_no_text_twice_in_a_file_or_in_both(key: Any) -> None:
    seen: dict[str, str] = {}
    for name, number, obj in all_rows():
        k = key(obj["text"])
        if not k:  # nothing left to compare (only symbols); the nfkc key still covers it
            continue
        where = f"{FILES[name].name}:{number} {obj['text']!r}"
        assert k not in seen, f"{where} repeats {seen[k]}"
        seen[k] = where


def test_keys_fold_what_they_should() -> None:
    assert exact_key("ＳＭＴＰ　５８７") == exact_key("SMTP 587")
    assert exact_key("ﾒｰﾙ送れない") == exact_key("メール 送れない")
    assert near_key("ヘルプ!") == near_key("へるぷ")
    assert near_key("OK。") == near_key("ok")


# ---------------------------------------------------------------- FAQ

_MARKDOWN = re.compile(r"\*\*|__|`|\]\(|^\s*(?:#|[-*+>] |\d+\. )", re.MULTILINE)


def _sentences_ja(text: str) -> int:
    return len([s for s in re.split(r"(?<=[。！？])", text) if s.strip()])


def _sentences_en(text: str) -> int:
    return len([s for s in re.split(r"(?<=[a-z0-9)\"”][.!?])\s+(?=[A-Z\"“])", text) if s.strip()])


def _no_japanese_in_english(value: str) -> bool:
    for allowed in EN_ALLOWED_JAPANESE:
        value = value.replace(allowed, "")
    return not _JAPANESE.search(nfkc(value))


def test_faq_answers_every_topic_in_both_languages() -> None:
    data = faq()
    assert set(data) == set(FAQ_TOPICS), (
        f"missing {sorted(set(FAQ_TOPICS) - set(data))}, "
        f"not in FAQ_TOPICS {sorted(set(data) - set(FAQ_TOPICS))}"
    )
    assert len(FAQ_TOPICS) == len(set(FAQ_TOPICS)), "FAQ_TOPICS lists an id twice"
    assert len(data) >= FAQ_MIN_TOPICS, f"{len(data)} topics < {FAQ_MIN_TOPICS}"
    for topic in FAQ_TOPICS:
        entry = data[topic]
        assert isinstance(entry, dict), topic
        keys = set(entry)
        assert keys == FAQ_KEYS, (
            f"{topic}: missing {sorted(FAQ_KEYS - keys)}, unknown {sorted(keys - FAQ_KEYS)}"
        )
        for field, value in entry.items():
            if field.startswith("questions_"):
                continue  # test_faq_questions_are_real_phrasings_in_the_right_script
            assert isinstance(value, str) and value.strip(), f"{topic}.{field} is empty"
            if field.endswith("_ja"):
                assert _JAPANESE.search(value), f"{topic}.{field} has no Japanese"
            else:
                assert _no_japanese_in_english(value), f"{topic}.{field} has Japanese"


def test_utterance_topics_are_faq_ids() -> None:
    ids = set(faq())
    assert set(TOPICS) <= ids, f"utterance topics without an answer: {sorted(set(TOPICS) - ids)}"
    for name, number, obj in all_rows():
        if obj["topic"] is not None:
            assert obj["topic"] in ids, (
                f"{FILES[name].name}:{number}: topic {obj['topic']!r} is not an FAQ id"
            )


def test_faq_titles_are_distinct() -> None:
    for lang in LANGS:
        titles = Counter(entry[f"title_{lang}"] for entry in faq().values())
        twice = sorted(title for title, n in titles.items() if n > 1)
        assert not twice, f"title_{lang} used by more than one topic: {twice}"


@pytest.mark.parametrize("topic", FAQ_TOPICS)
def test_faq_questions_are_real_phrasings_in_the_right_script(topic: str) -> None:
    entry = faq()[topic]
    low, high = QUESTIONS_PER_LANG
    for lang in LANGS:
        field = f"questions_{lang}"
        questions = entry[field]
        assert isinstance(questions, list), f"{topic}.{field} must be a list"
        assert low <= len(questions) <= high, f"{topic}.{field}: {len(questions)} phrasings"
        keys: set[str] = set()
        for question in questions:
            where = f"{topic}.{field} {question!r}"
            assert isinstance(question, str) and question.strip(), f"{where}: empty"
            assert question == question.strip() and "\n" not in question, f"{where}: whitespace"
            assert len(question) <= QUESTION_MAX_CHARS, f"{where}: too long for a chat question"
            if lang == "ja":
                assert _JAPANESE.search(nfkc(question)), f"{where}: no Japanese"
            else:
                assert not _JAPANESE.search(nfkc(question)), f"{where}: has Japanese"
            key = near_key(question)
            assert key not in keys, f"{where}: the same phrasing twice"
            keys.add(key)


def test_faq_questions_belong_to_one_topic_and_leave_the_test_set_alone() -> None:
    """A phrasing under two topics is ambiguous; a copy of a held-out line would leak into it."""
    held_out = {near_key(obj["text"]): number for number, obj in load("test")}
    seen: dict[str, str] = {}
    for topic, entry in faq().items():
        for lang in LANGS:
            for question in entry[f"questions_{lang}"]:
                where = f"{topic}.questions_{lang} {question!r}"
                key = near_key(question)
                assert key not in seen, f"{where} is also under {seen[key]}"
                seen[key] = topic
                assert key not in held_out, f"{where} copies {FILES['test'].name}:{held_out[key]}"


@pytest.mark.parametrize("topic", FAQ_TOPICS)
def test_faq_answers_are_short_plain_and_polite(topic: str) -> None:
    entry = faq()[topic]
    for field in ("answer_ja", "answer_en"):
        assert not _MARKDOWN.search(entry[field]), f"{topic}.{field} uses markdown"
    assert 2 <= _sentences_ja(entry["answer_ja"]) <= 6, f"{topic}.answer_ja length"
    assert 2 <= _sentences_en(entry["answer_en"]) <= 6, f"{topic}.answer_en length"
    assert len(entry["answer_ja"]) <= 400, f"{topic}.answer_ja is too long"
    assert len(entry["answer_en"]) <= 700, f"{topic}.answer_en is too long"
    assert "です" in entry["answer_ja"] or "ます" in entry["answer_ja"], f"{topic}: not です/ます"
    for field in ("title_ja", "title_en"):
        assert len(entry[field]) <= 40 and "\n" not in entry[field], f"{topic}.{field}"


@pytest.mark.parametrize(
    ("topic", "needles_ja", "needles_en"),
    [
        ("op25b", ("587", "465", "SMTP認証"), ("587", "465", "authentication")),
        ("port_25", ("587", "465"), ("587", "465")),
        ("ports", ("587", "465", "993", "995"), ("587", "465", "993", "995")),
        ("port_465_vs_587", ("SSL/TLS", "STARTTLS"), ("SSL/TLS", "STARTTLS")),
        ("app_password", ("2段階認証", "IMAP専用パスワード"), ("2-step verification", "docomo")),
        ("oauth", ("2024年9月16日", "Microsoft"), ("September 2024", "Microsoft")),
        ("pop3", ("新しいOutlook", "Microsoftのサーバー"), ("new Outlook", "Microsoft's servers")),
        ("password_safety", ("削除", "変更"), ("delete", "change the password")),
        ("router_restart", ("電源",), ("unplug",)),
        # bounces and delivery
        ("user_unknown", ("5.1.1", "打ち間違い"), ("5.1.1", "typo")),
        ("domain_not_found", ("5.1.2", "null MX"), ("5.1.2", "null MX")),
        ("mailbox_full", ("5.2.2", "ゴミ箱"), ("5.2.2", "Trash")),
        ("attachment_size", ("5.3.4", "25MB"), ("5.3.4", "25 MB")),
        ("greylisting", ("451", "送り直す"), ("451", "retries")),
        ("sending_limits", ("5.4.5", "とされています"), ("5.4.5", "said to")),
        ("dns_propagation", ("72時間",), ("72 hours",)),
        # carrier filters and sender authentication
        ("carrier_pc_mail_block", ("受信リスト", "受け取る側"), ("allow list", "recipient")),
        ("carrier_spoofing_filter", ("SPF", "とされています"), ("SPF", "said to")),
        ("spf", ("v=spf1",), ("v=spf1",)),
        ("dkim", ("_domainkey",), ("_domainkey",)),
        ("dmarc", ("_dmarc", "p=none", "2024年2月"), ("_dmarc", "p=none", "February 2024")),
        ("sender_rules_2024", ("2024年2月1日", "5,000"), ("1 February 2024", "5,000")),
        ("reverse_dns", ("5.7.25",), ("5.7.25",)),
        ("forwarding_mailing_lists", ("SPF", "IMAP"), ("SPF", "IMAP")),
        # providers and dated changes
        (
            "gmailify_pop_end",
            ("2026年", "とされています", "転送"),
            ("2026", "said to", "forwarding"),
        ),
        (
            "google_workspace_passwords",
            ("2024年9月30日", "アプリパスワード"),
            ("30 September 2024", "app password"),
        ),
        ("outlook_com_oauth", ("2024年9月16日", "OAuth"), ("16 September 2024", "OAuth")),
        (
            "m365_smtp_auth",
            ("5.7.139", "2026年12月", "とされています"),
            ("5.7.139", "December 2026", "said to"),
        ),
        (
            "docomo_imap_password",
            ("IMAP専用パスワード", "dアカウント"),
            ("IMAP password", "d ACCOUNT"),
        ),
        (
            "icloud_app_password",
            ("App用パスワード", "2ファクタ認証"),
            ("app-specific password", "two-factor"),
        ),
        (
            "yahoo_japan_access",
            ("IMAP/POP/SMTP", "Yahoo! JAPAN ID"),
            ("IMAP/POP/SMTP", "Yahoo! JAPAN ID"),
        ),
        (
            "new_outlook_pop_imap",
            ("Microsoftのサーバー", "POP before SMTP", "海外"),
            ("Microsoft's servers", "POP before SMTP", "overseas"),
        ),
        (
            "windows_mail_retired",
            ("2024年末", "とされ", "新しいOutlook"),
            ("end of 2024", "said to", "new Outlook"),
        ),
        # settings
        ("pop_before_smtp", ("新しいOutlook", "SMTP認証"), ("new Outlook", "SMTP authentication")),
        ("certificate_name_mismatch", ("事業者のサーバー名",), ("hosting control panel",)),
        ("tls_old_apps", ("2023年4月13日", "TLS 1.1"), ("13 April 2023", "TLS 1.1")),
        ("outlook_error_codes", ("0x800CCC0E", "0x8004210B"), ("0x800CCC0E", "0x8004210B")),
        ("sign_out_sign_in", ("バックアップ",), ("back it up",)),
        ("contact_provider", ("エラー", "パスワード"), ("error message", "password")),
    ],
)
def test_faq_states_the_facts_people_need(
    topic: str, needles_ja: tuple[str, ...], needles_en: tuple[str, ...]
) -> None:
    entry = faq()[topic]
    for needle in needles_ja:
        assert needle in entry["answer_ja"], f"{topic}.answer_ja lacks {needle!r}"
    for needle in needles_en:
        assert needle in entry["answer_en"], f"{topic}.answer_en lacks {needle!r}"
