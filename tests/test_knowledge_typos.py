"""Did-you-mean suggestions for mistyped mail domains."""

from __future__ import annotations

import pytest

from bot.knowledge.providers import load_providers
from bot.knowledge.typos import known_mail_domains, suggest_domain


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gmial.com", "gmail.com"),  # swapped letters
        ("gmai.com", "gmail.com"),  # missing letter
        ("gmaill.com", "gmail.com"),  # extra letter
        ("gmail.co", "gmail.com"),
        ("gmail.con", "gmail.com"),
        ("yaho.co.jp", "yahoo.co.jp"),
        ("docomo.ne.pj", "docomo.ne.jp"),
        ("ezweb.ne.pj", "ezweb.ne.jp"),
        ("icloud.co", "icloud.com"),
        ("icould.com", "icloud.com"),
        ("outlok.jp", "outlook.jp"),
        ("hotmial.co.jp", "hotmail.co.jp"),
        ("i.softbnak.jp", "i.softbank.jp"),
        ("au.con", "au.com"),
        ("gmailcom", "gmail.com"),  # missing dot
        ("yahoocojp", "yahoo.co.jp"),  # distance 2, long name
        ("docomo.co.jp", "docomo.ne.jp"),  # distance 2, long name
    ],
)
def test_one_or_two_edits_from_a_known_domain(typed: str, meant: str) -> None:
    assert suggest_domain(typed) == meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gmail.co.jp", "gmail.com"),
        ("icloud.ne.jp", "icloud.com"),
        ("docomo.com", "docomo.ne.jp"),
        ("ezweb.jp", "ezweb.ne.jp"),
    ],
)
def test_right_name_with_the_wrong_ending(typed: str, meant: str) -> None:
    assert suggest_domain(typed) == meant


def test_the_more_common_domain_wins_a_tie() -> None:
    # One edit from both yahoo.co.jp and yahoo.ne.jp.
    assert suggest_domain("yahoo.no.jp") == "yahoo.co.jp"
    # hotmail.com and hotmail.co.jp share the name.
    assert suggest_domain("hotmail.jp") == "hotmail.com"


def test_input_is_normalised_like_the_provider_lookup() -> None:
    assert suggest_domain("GMIAL.COM") == "gmail.com"
    assert suggest_domain("taro@gmial.com") == "gmail.com"
    assert suggest_domain("ｇｍｉａｌ．ｃｏｍ") == "gmail.com"


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "GMAIL.COM", "yahoo.co.jp", "yahoo.ne.jp", "docomo.ne.jp", "ezweb.ne.jp",
     "softbank.ne.jp", "hotmail.co.jp", "outlook.jp", "aol.com", "mail.com", "hotmail.co.uk"],
)  # fmt: skip
def test_never_for_a_known_domain(domain: str) -> None:
    assert suggest_domain(domain) is None


@pytest.mark.parametrize(
    "domain",
    [
        "example-company.co.jp",
        "mycompany.jp",
        "example.com",
        "taro.sakura.ne.jp",  # a provider sub-domain, known
        "ai.com",  # one letter from au.com, but a different short name
        "mi.com",
        "max.com",
        "",
        "   ",
        "例え.jp",
    ],
)
def test_no_suggestion_for_other_domains(domain: str) -> None:
    assert suggest_domain(domain) is None


def test_suggestions_come_from_the_provider_table_plus_extras() -> None:
    known = known_mail_domains()
    assert load_providers().known_domains() <= known
    assert {"ezweb.ne.jp", "softbank.ne.jp", "yahoo.ne.jp", "aol.com", "hotmail.co.jp"} <= known
    for typed in ("gmial.com", "docomo.ne.pj", "gmail.co.jp"):
        assert suggest_domain(typed) in known
