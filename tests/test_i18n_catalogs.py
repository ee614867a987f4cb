"""Every message exists in Japanese and English, and every finding code has its texts."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.diagnosis import recipient, rules
from bot.i18n import LANGS, catalog, default_lang
from bot.probes.result import Failure

PLACEHOLDERS = {
    "host", "port", "security_label", "protocol_label", "domain", "detail", "suggestion",
    "suggestion_label", "cert_names", "not_after", "not_before", "tls_version", "reply",
    "recommended", "expected", "expected_label", "mechanisms", "provider", "recommended_host",
    "recommended_port", "recommended_security_label", "receiver_label",
}  # fmt: skip


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_finding_has_message_and_fix_in_both_languages() -> None:
    for code, entry in catalog("findings").items():
        for lang in LANGS:
            assert entry[lang].strip(), (code, lang)
            assert entry[f"fix_{lang}"].strip(), (code, lang)
        # A suggestion-specific fix exists in both languages or in neither.
        assert ("fix_suggestion_ja" in entry) == ("fix_suggestion_en" in entry), code


def test_finding_texts_use_only_known_placeholders() -> None:
    for code, entry in catalog("findings").items():
        for key, text in entry.items():
            unknown = _fields(text) - PLACEHOLDERS
            assert not unknown, (code, key, unknown)


def test_every_code_the_rules_can_produce_has_texts() -> None:
    source = Path(rules.__file__).read_text(encoding="utf-8")
    source += Path(recipient.__file__).read_text(encoding="utf-8")
    produced = set(rules._FAILURE_CODES.values()) | set(rules._AUTH_CODES.values())
    produced |= set(
        re.findall(
            r'"((?:dns|net|tls|smtp|auth|settings|policy|recipient|sender)\.[a-z0-9_]*[a-z0-9])"',
            source,
        )
    )
    produced |= {f"{p}.rejected" for p in ("smtp", "imap", "pop3")}
    produced |= {f"{p}.login_disabled" for p in ("imap", "pop3")}
    assert produced <= set(catalog("findings")), produced - set(catalog("findings"))
    assert set(rules._FAILURE_CODES) | {Failure.REJECTED} == set(Failure)


def test_ui_messages_exist_in_both_languages_with_the_same_placeholders() -> None:
    for key, entry in catalog("ui").items():
        assert _fields(entry["ja"]) == _fields(entry["en"]), key


def test_japanese_texts_are_japanese() -> None:
    for name in ("findings", "ui"):
        for key, entry in catalog(name).items():
            if key.startswith(("security.", "progress.done", "source.ispdb")):
                continue
            assert re.search(r"[぀-ヿ一-鿿]", entry["ja"]), key


def test_default_language_follows_the_locale() -> None:
    assert default_lang({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert default_lang({"LC_ALL": "en_US.UTF-8", "LANG": "ja_JP.UTF-8"}) == "en"
    assert default_lang({"LANG": "C.UTF-8"}) == "en"
