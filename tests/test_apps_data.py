"""The per-app instructions: conversations/apps.toml.

These tests check the data only: every app says, in Japanese and English, where its server, port,
encryption and sign-in settings are and what goes wrong in it; the app ids stay; and every app the
dialogue offers in conversations/flow.toml (step ask_client) has instructions.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS_FILE = ROOT / "conversations" / "apps.toml"
FLOW_FILE = ROOT / "conversations" / "flow.toml"

# Ids are public (the `app` entity of the utterance sets, the ask_client choices), so this list
# only ever grows: an id that disappears or is renamed fails here.
APP_IDS = (
    "outlook_classic", "new_outlook", "gmail_app", "iphone_mail", "apple_mail", "thunderbird",
    "android", "windows_mail", "webmail", "other",
)  # fmt: skip
FIELDS = ("name", "where", "server", "security", "signin", "notes")
LANGS = ("ja", "en")
KEYS = frozenset(f"{field}_{lang}" for field in FIELDS for lang in LANGS)
# Japanese that an English text may name: the label a person has to look for.
EN_ALLOWED_JAPANESE = ("IMAP専用パスワード",)
MAX_CHARS = {"name": 40, "where": 300}
MAX_CHARS_DEFAULT = {"ja": 400, "en": 700}

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_MARKDOWN = re.compile(r"\*\*|__|`|\]\(|^\s*(?:#|[-*+>] |\d+\. )", re.MULTILINE)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@cache
def apps() -> dict[str, Any]:
    with APPS_FILE.open("rb") as fh:
        return tomllib.load(fh)


@cache
def flow() -> dict[str, Any]:
    with FLOW_FILE.open("rb") as fh:
        return tomllib.load(fh)


def test_the_app_ids_are_all_there() -> None:
    data = apps()
    assert len(APP_IDS) == len(set(APP_IDS)), "APP_IDS lists an id twice"
    assert set(data) == set(APP_IDS), (
        f"missing {sorted(set(APP_IDS) - set(data))}, "
        f"not in APP_IDS {sorted(set(data) - set(APP_IDS))}"
    )


@pytest.mark.parametrize("app", APP_IDS)
def test_every_app_has_every_key_in_both_languages(app: str) -> None:
    entry = apps()[app]
    assert isinstance(entry, dict), app
    keys = set(entry)
    assert keys == KEYS, f"{app}: missing {sorted(KEYS - keys)}, unknown {sorted(keys - KEYS)}"
    for key, value in entry.items():
        assert isinstance(value, str) and value.strip(), f"{app}.{key} is empty"
        assert value == value.strip(), f"{app}.{key} has surrounding whitespace"


@pytest.mark.parametrize("app", APP_IDS)
def test_texts_are_in_their_language_plain_and_short(app: str) -> None:
    entry = apps()[app]
    for field in FIELDS:
        ja, en = entry[f"{field}_ja"], entry[f"{field}_en"]
        # A brand written the same in both languages ("Thunderbird") is the one text allowed
        # to have no Japanese.
        brand = field == "name" and ja == entry["name_en"]
        assert brand or _JAPANESE.search(nfkc(ja)), f"{app}.{field}_ja has no Japanese"
        stripped = en
        for allowed in EN_ALLOWED_JAPANESE:
            stripped = stripped.replace(allowed, "")
        assert not _JAPANESE.search(nfkc(stripped)), f"{app}.{field}_en has Japanese"
        for lang, text in (("ja", ja), ("en", en)):
            where = f"{app}.{field}_{lang}"
            assert not _MARKDOWN.search(text), f"{where} uses markdown"
            limit = MAX_CHARS.get(field, MAX_CHARS_DEFAULT[lang])
            assert len(text) <= limit, f"{where}: {len(text)} characters > {limit}"
            if field in ("name", "where"):
                assert "\n" not in text, f"{where} must be one line"
        if field not in ("name", "where"):
            assert "です" in ja or "ます" in ja, f"{app}.{field}_ja: not です/ます"


def test_every_ask_client_choice_is_an_app() -> None:
    choices = flow()["steps"]["ask_client"]["choices"]
    assert choices, "ask_client offers no choices"
    values = [choice["value"] for choice in choices]
    missing = sorted(set(values) - set(apps()))
    assert not missing, f"ask_client offers apps without instructions: {missing}"


def test_the_app_names_match_the_choices_they_are_offered_as() -> None:
    """The bot names the app the way the person picked it, give or take the brackets."""
    for choice in flow()["steps"]["ask_client"]["choices"]:
        entry = apps()[choice["value"]]
        for lang in LANGS:
            picked, named = nfkc(choice[lang]).casefold(), nfkc(entry[f"name_{lang}"]).casefold()
            if choice["value"] in ("other", "webmail"):
                continue  # "その他" / "Other" is a choice, not a name
            assert named in picked or picked in named, (choice["value"], lang, picked, named)


@pytest.mark.parametrize(
    ("app", "field", "needles_ja", "needles_en"),
    [
        # what each app calls its encryption setting
        (
            "outlook_classic",
            "security",
            ("使用する暗号化接続の種類", "SSL/TLS", "STARTTLS", "自動", "なし"),
            ("Use the following type of encrypted connection", "SSL/TLS", "STARTTLS", "Auto"),
        ),
        ("thunderbird", "security", ("接続の保護", "SSL/TLS", "STARTTLS", "なし"), ("None",)),
        ("iphone_mail", "security", ("SSLを使用", "587"), ("Use SSL", "587")),
        ("apple_mail", "security", ("TLS/SSLを使用",), ("Use TLS/SSL",)),
        ("gmail_app", "security", ("セキュリティの種類",), ("Security type",)),
        ("windows_mail", "security", ("SSL",), ("Require SSL",)),
        # where sending and receiving are changed
        ("iphone_mail", "server", ("送信メールサーバ", "サーバポート"), ("Primary Server",)),
        ("thunderbird", "server", ("送信 (SMTP) サーバー",), ("Outgoing Server (SMTP)",)),
        ("windows_mail", "server", (":993",), (":993",)),
        # sign-in
        (
            "thunderbird",
            "signin",
            ("OAuth2", "保存されたパスワード"),
            ("OAuth2", "Saved Passwords"),
        ),
        ("iphone_mail", "signin", ("2か所",), ("two places",)),
        ("outlook_classic", "signin", ("認証が必要",), ("requires authentication",)),
        # the pitfalls
        (
            "new_outlook",
            "notes",
            ("Microsoft のサーバー", "POP before SMTP", "海外"),
            ("Microsoft's servers", "POP before SMTP", "overseas"),
        ),
        ("iphone_mail", "notes", ("別の一覧", "プライマリサーバ"), ("separate list",)),
        (
            "gmail_app",
            "notes",
            ("その他", "2026年", "とされています"),
            ("Other", "2026", "said to"),
        ),
        ("thunderbird", "notes", ("2024年9月16日", "OAuth2"), ("16 September 2024", "OAuth2")),
        (
            "windows_mail",
            "notes",
            ("2024年末", "とされ", "新しい Outlook"),
            ("end of 2024", "said to", "new Outlook"),
        ),
        ("windows_mail", "where", ("とされ",), ("said to",)),
    ],
)
def test_apps_state_what_people_need(
    app: str, field: str, needles_ja: tuple[str, ...], needles_en: tuple[str, ...]
) -> None:
    entry = apps()[app]
    for needle in needles_ja:
        assert needle in entry[f"{field}_ja"], f"{app}.{field}_ja lacks {needle!r}"
    for needle in needles_en:
        assert needle in entry[f"{field}_en"], f"{app}.{field}_en lacks {needle!r}"
