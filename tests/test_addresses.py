"""What people type: addresses, host names and SPECs are understood or refused clearly."""

from __future__ import annotations

import pytest

from bot.addresses import InputError, parse_address, parse_spec
from bot.model import Endpoint, Protocol, Security


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("taro@example.jp", "example.jp"),
        ("Taro@Example.JP", "example.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "example.jp"),  # full-width, as typed with an IME
        ("<mailto:taro@example.jp|taro@example.jp>", "example.jp"),  # Slack's wrapping
        ("山田 <taro@example.jp>", "example.jp"),
        ("taro@例え.jp", "xn--r8jz45g.jp"),  # IDN to punycode
    ],
)
def test_addresses_are_normalised(text: str, domain: str) -> None:
    assert parse_address(text).domain == domain


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("taro.example.jp", "input.address_no_at"),
        ("@example.jp", "input.address_invalid"),
        ("taro@", "input.host_empty"),
        ("taro@exa mple.jp", "input.host_invalid"),
        ("taro@" + "a" * 10_000 + ".jp", "input.host_too_long"),
        ("taro@-bad-.jp", "input.host_invalid"),
        ("taro@192.0.2.1", "input.address_invalid"),
    ],
)
def test_bad_addresses_get_a_named_error(text: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_address(text)
    assert caught.value.key == key
    assert len(caught.value.value) <= 80  # a 10 kB value is never echoed whole


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("smtp.example.jp", Endpoint(Protocol.SMTP, "smtp.example.jp", 465, Security.SSL)),
        ("smtp.example.jp:587", Endpoint(Protocol.SMTP, "smtp.example.jp", 587, Security.STARTTLS)),
        ("smtp.example.jp:587/ssl", Endpoint(Protocol.SMTP, "smtp.example.jp", 587, Security.SSL)),
        (
            "smtp.example.jp/starttls",
            Endpoint(Protocol.SMTP, "smtp.example.jp", 587, Security.STARTTLS),
        ),
        (
            "SMTP.Example.JP：２５/NONE",
            Endpoint(Protocol.SMTP, "smtp.example.jp", 25, Security.NONE),
        ),
        ("[2001:db8::1]:465", Endpoint(Protocol.SMTP, "2001:db8::1", 465, Security.SSL)),
    ],
)
def test_smtp_specs(spec: str, expected: Endpoint) -> None:
    assert parse_spec(spec, Protocol.SMTP).endpoint() == expected


def test_imap_and_pop3_defaults_follow_the_port() -> None:
    assert parse_spec("imap.example.jp:143", Protocol.IMAP).endpoint().security is Security.STARTTLS
    assert parse_spec("imap.example.jp", Protocol.IMAP).endpoint().port == 993
    assert parse_spec("pop.example.jp/starttls", Protocol.POP3).endpoint().port == 110


def test_spec_remembers_what_the_person_did_not_say() -> None:
    setting = parse_spec("imap.example.jp", Protocol.IMAP)
    assert setting.port is None and setting.security is None


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("smtp.example.jp:0", "input.port_invalid"),
        ("smtp.example.jp:70000", "input.port_invalid"),
        ("smtp.example.jp:abc", "input.port_invalid"),
        ("smtp.example.jp:587/tls", "input.security_invalid"),
        ("smtp.example.jp:587/ssl/x", "input.security_invalid"),
        ("", "input.spec_invalid"),
        ("a" * 10_000, "input.host_too_long"),
        ("単語", "input.host_invalid"),
    ],
)
def test_bad_specs_get_a_named_error(spec: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_spec(spec, Protocol.SMTP)
    assert caught.value.key == key
