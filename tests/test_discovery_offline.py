"""Discovery pieces that need no network: autoconfig files, guesses, MX-derived domains."""

from __future__ import annotations

from bot.discovery.autoconfig import domain_urls, ispdb_url, parse_config
from bot.discovery.candidates import Source
from bot.discovery.guess import guesses
from bot.discovery.mxdomain import base_domain, mx_domains
from bot.model import Endpoint, Protocol, Security

CONFIG = b"""<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.jp">
    <domain>example.jp</domain>
    <incomingServer type="imap">
      <hostname>imap.example.jp</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.jp</hostname><port>110</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="exchange"><hostname>ews.example.jp</hostname></incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.jp</hostname><port>465</port><socketType>SSL</socketType>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>%EMAILDOMAIN%</hostname><port>587</port><socketType>STARTTLS</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>"""


def test_autoconfig_file_gives_every_usable_server_in_order() -> None:
    found = parse_config(CONFIG, Source.AUTOCONFIG, "https://autoconfig.example.jp/")
    assert [c.endpoint for c in found] == [
        Endpoint(Protocol.IMAP, "imap.example.jp", 993, Security.SSL),
        Endpoint(Protocol.POP3, "pop.example.jp", 110, Security.STARTTLS),
        Endpoint(Protocol.SMTP, "smtp.example.jp", 465, Security.SSL),
    ]
    assert [c.username for c in found] == ["address", "localpart", None]
    assert all(c.source is Source.AUTOCONFIG for c in found)


def test_broken_or_hostile_config_files_give_nothing() -> None:
    assert parse_config(b"<clientConfig><unclosed>", Source.ISPDB, "") == []
    assert parse_config(b"not xml at all \x00\xff", Source.ISPDB, "") == []
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><clientConfig>&a;</clientConfig>'
    assert parse_config(bomb, Source.ISPDB, "") == []


def test_autoconfig_urls_follow_thunderbird_order() -> None:
    urls = domain_urls("example.jp", "taro@example.jp")
    assert (
        urls[0] == "https://autoconfig.example.jp/mail/config-v1.1.xml?emailaddress=taro@example.jp"
    )
    assert urls[1].startswith("https://example.jp/.well-known/autoconfig/mail/config-v1.1.xml")
    assert [u.split(":")[0] for u in urls] == ["https", "https", "http", "http"]
    assert (
        ispdb_url("https://ispdb.example/v1.1", "example.jp")
        == "https://ispdb.example/v1.1/example.jp"
    )


def test_guesses_try_tls_first_and_never_plain_text() -> None:
    smtp = [c.endpoint for c in guesses("example.jp", Protocol.SMTP)]
    assert smtp[0] == Endpoint(Protocol.SMTP, "smtp.example.jp", 465, Security.SSL)
    assert smtp[3] == Endpoint(Protocol.SMTP, "smtp.example.jp", 587, Security.STARTTLS)
    assert Security.NONE not in {e.security for e in smtp}
    pop = [c.endpoint.host for c in guesses("example.jp", Protocol.POP3)]
    assert pop[:4] == ["pop3.example.jp", "pop.example.jp", "mail.example.jp", "example.jp"]


def test_mx_derived_domains() -> None:
    assert base_domain("mx1.premium.europe.example.com") == "example.com"
    assert base_domain("mail.example.co.jp") == "example.co.jp"
    assert mx_domains("mx1.premium.europe.example.com", "customer.jp") == [
        "premium.europe.example.com",
        "example.com",
    ]
    assert mx_domains("aspmx.l.google.com", "customer.co.jp") == ["l.google.com", "google.com"]
    # A domain that runs its own MX has nothing to learn from it.
    assert mx_domains("mail.example.co.jp", "example.co.jp") == []


def test_config_files_in_other_encodings_or_with_bad_declarations_give_nothing() -> None:
    utf16 = CONFIG.decode().encode("utf-16")
    assert parse_config(utf16, Source.ISPDB, "") == []
    bogus = b'<?xml version="1.0" encoding="x-bogus"?>' + CONFIG.split(b"?>", 1)[1]
    assert parse_config(bogus, Source.ISPDB, "") == []
