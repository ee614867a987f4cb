"""The provider table as the diagnosis sees it, and the loader's refusal of bad data."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest

from bot.knowledge.providers import (
    Auth,
    Confidence,
    Provider,
    Status,
    Username,
    load_providers,
    load_providers_file,
    normalize_domain,
    parse_providers,
)
from bot.model import Endpoint, Protocol, Security

DB = load_providers()


def provider(domain: str) -> Provider:
    p = DB.by_domain(domain)
    assert p is not None, domain
    return p


# ---------------------------------------------------------------- lookups users depend on


def test_gmail_sends_on_465_ssl_first() -> None:
    gmail = provider("gmail.com")
    assert gmail.id == "gmail"
    smtp = gmail.servers_for(Protocol.SMTP)
    assert (smtp[0].host, smtp[0].port, smtp[0].security) == ("smtp.gmail.com", 465, Security.SSL)
    assert (smtp[1].port, smtp[1].security) == (587, Security.STARTTLS)
    assert smtp[0].confidence is Confidence.VERIFIED
    assert gmail.status is Status.PREPARATION
    assert Auth.APP_PASSWORD in gmail.auth
    assert provider("googlemail.com") is gmail


def test_servers_for_keeps_one_protocol_and_accepts_plain_words() -> None:
    gmail = provider("gmail.com")
    assert [s.host for s in gmail.servers_for("imap")] == ["imap.gmail.com"]
    assert all(s.protocol is Protocol.POP3 for s in gmail.servers_for("pop3"))
    with pytest.raises(ValueError):
        gmail.servers_for("http")


@pytest.mark.parametrize(
    "mx",
    ["aspmx.l.google.com", "ASPMX.L.GOOGLE.COM.", "smtp.google.com", "alt1.aspmx.l.google.com"],
)
def test_google_workspace_custom_domain_found_by_mx(mx: str) -> None:
    workspace = DB.by_mx(mx)
    assert workspace is not None and workspace.id == "google_workspace"
    assert workspace.servers_for(Protocol.IMAP)[0].host == "imap.gmail.com"
    assert "2024年9月30日" in workspace.hint_ja


def test_microsoft_365_found_by_mx_and_consumer_outlook_is_not() -> None:
    m365 = DB.by_mx("contoso-com.mail.protection.outlook.com")
    assert m365 is not None and m365.id == "microsoft_365"
    assert m365.servers_for(Protocol.SMTP)[0].endpoint() == Endpoint(
        Protocol.SMTP, "smtp.office365.com", 587, Security.STARTTLS
    )
    # The more specific consumer pattern wins over *.protection.outlook.com.
    consumer = DB.by_mx("eur.olc.protection.outlook.com")
    assert consumer is not None and consumer.id == "outlook_com"
    assert provider("contoso.onmicrosoft.com") is m365


def test_microsoft_365_smtp_may_still_take_a_password_but_imap_not() -> None:
    m365 = DB.by_mx("contoso-com.mail.protection.outlook.com")
    assert m365 is not None
    assert Auth.PASSWORD in m365.servers_for(Protocol.SMTP)[0].auth
    assert m365.servers_for(Protocol.IMAP)[0].auth == (Auth.OAUTH2,)


@pytest.mark.parametrize(
    "domain",
    ["outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.jp", "hotmail.co.jp", "live.jp"],
)
def test_outlook_com_is_oauth2_only(domain: str) -> None:
    outlook = provider(domain)
    assert outlook.id == "outlook_com"
    assert outlook.oauth_only
    assert outlook.status is Status.BROKEN
    assert "2024年9月16日" in outlook.hint_ja
    assert all(s.auth == (Auth.OAUTH2,) for s in outlook.servers)


def test_docomo_needs_its_imap_only_password_and_d_account_id() -> None:
    docomo = provider("docomo.ne.jp")
    assert docomo.auth == (Auth.PROVIDER_PASSWORD,)
    assert docomo.username is Username.ACCOUNT_ID
    assert "IMAP専用パスワード" in docomo.hint_ja
    assert docomo.servers_for(Protocol.IMAP)[0].host == "imap.spmode.ne.jp"


@pytest.mark.parametrize("domain", ["au.com", "ezweb.ne.jp"])
def test_au_is_never_stated_as_fact(domain: str) -> None:
    au = provider(domain)
    assert au.id == "au"
    assert au.confidence is Confidence.UNVERIFIED
    assert au.servers
    assert all(s.confidence is Confidence.UNVERIFIED for s in au.servers)
    assert not any(s.confidence.may_state_as_fact for s in au.servers)
    # Both conflicting IMAP hosts are kept for the probe to decide.
    assert {s.host for s in au.servers_for(Protocol.IMAP)} == {"imap.ezweb.ne.jp", "imap.au.com"}


def test_unverified_providers_say_so_in_their_hints() -> None:
    unverified = [p for p in DB if p.confidence is Confidence.UNVERIFIED]
    assert {"au", "softbank_mms", "nifty", "so_net", "plala"} <= {p.id for p in unverified}
    for p in unverified:
        assert "未確認" in p.hint_ja, p.id
        assert "unverified" in p.hint_en, p.id


def test_icloud_imap_user_is_local_part_but_smtp_user_is_address() -> None:
    icloud = provider("icloud.com")
    assert icloud.servers_for(Protocol.IMAP)[0].username is Username.LOCALPART
    assert icloud.servers_for(Protocol.SMTP)[0].username is Username.ADDRESS
    assert icloud.auth == (Auth.APP_PASSWORD,)
    assert provider("me.com") is icloud and provider("mac.com") is icloud


def test_yahoo_japan_has_no_ispdb_imap_so_imap_row_is_not_primary() -> None:
    yj = provider("yahoo.co.jp")
    assert yj.servers_for(Protocol.IMAP)[0].confidence is not Confidence.VERIFIED
    assert yj.servers_for(Protocol.POP3)[0].confidence is Confidence.VERIFIED
    assert yj.status is Status.PREPARATION
    assert provider("ybb.ne.jp").id == "yahoo_bb"
    assert provider("yahoo.com").id == "yahoo_global"


@pytest.mark.parametrize(
    ("domain", "provider_id"),
    [
        ("i.softbank.jp", "softbank_i"),
        ("softbank.ne.jp", "softbank_mms"),
        ("ymobile.ne.jp", "softbank_mms"),
        ("ocn.ne.jp", "ocn"),
        ("ocn.ad.jp", "ocn"),
        ("biglobe.ne.jp", "biglobe"),
        ("nifty.com", "nifty"),
        ("so-net.ne.jp", "so_net"),
        ("plala.or.jp", "plala"),
        ("xpost.plala.or.jp", "plala"),
    ],
)
def test_japanese_providers_by_domain(domain: str, provider_id: str) -> None:
    assert provider(domain).id == provider_id


@pytest.mark.parametrize(
    "typed",
    [
        "GMAIL.COM",
        "  Gmail.Com.  ",
        "taro@gmail.com",
        "@gmail.com",
        "ｇｍａｉｌ．ｃｏｍ",  # full-width IME input
        "gmail。com",  # Japanese full stop
        "gmail. com",
    ],
)
def test_lookup_forgives_how_people_type_a_domain(typed: str) -> None:
    assert provider(typed).id == "gmail"


def test_idna_names_are_normalised_to_punycode() -> None:
    assert normalize_domain("例え.JP") == "xn--r8jz45g.jp"
    assert normalize_domain("XN--R8JZ45G.jp") == "xn--r8jz45g.jp"
    assert DB.by_domain("例え.jp") is None  # unknown, but no crash
    assert normalize_domain("") is None
    assert normalize_domain("a" * 64 + ".例え.jp") is None  # label too long for IDNA
    assert DB.by_domain("") is None and DB.by_mx("") is None


def test_sub_domains_match_only_where_the_provider_hands_them_out() -> None:
    assert DB.by_domain("mail.gmail.com") is None
    assert DB.by_domain("evil-gmail.com") is None
    assert DB.by_domain("sakura.ne.jp") is None
    assert provider("example.sakura.ne.jp").id == "sakura"
    assert DB.by_domain("example-company.co.jp") is None


def test_xserver_host_is_per_account_and_cannot_be_given() -> None:
    xserver = DB.by_mx("sv12345.xserver.jp")
    assert xserver is not None and xserver.id == "xserver"
    assert xserver.domains == ()
    for s in xserver.servers:
        assert s.host == "" and not s.host_known
        assert s.host_pattern == "sv*.xserver.jp"
        assert s.host_for("example.co.jp") is None
        with pytest.raises(ValueError, match="per account"):
            s.endpoint()
    imap = xserver.servers_for(Protocol.IMAP)[0]
    assert imap.endpoint("sv12345.xserver.jp").label() == "imap://sv12345.xserver.jp:993/ssl"
    assert DB.by_host("SV12345.xserver.jp") is xserver


def test_sakura_initial_domain_is_its_own_server_name() -> None:
    sakura = provider("taro.sakura.ne.jp")
    smtp = sakura.servers_for(Protocol.SMTP)
    assert (smtp[0].port, smtp[0].security) == (587, Security.STARTTLS)  # the OP25B way out
    assert smtp[0].host_for("taro.sakura.ne.jp") == "taro.sakura.ne.jp"
    assert smtp[0].host_for("example.com") is None
    assert DB.by_mx("taro.sakura.ne.jp") is sakura


def test_by_host_names_the_provider_of_a_typed_server() -> None:
    assert DB.by_host("imap.spmode.ne.jp") is provider("docomo.ne.jp")
    assert DB.by_host("imap.example.com") is None


def test_known_domains_cover_the_common_japanese_ones() -> None:
    known = DB.known_domains()
    assert isinstance(known, frozenset)
    assert {
        "gmail.com", "googlemail.com", "outlook.jp", "hotmail.co.jp", "live.jp", "icloud.com",
        "yahoo.co.jp", "ybb.ne.jp", "docomo.ne.jp", "au.com", "ezweb.ne.jp", "i.softbank.jp",
        "softbank.ne.jp", "ymobile.ne.jp", "ocn.ne.jp", "biglobe.ne.jp", "nifty.com",
    } <= known  # fmt: skip
    assert "sakura.ne.jp" not in known  # a pattern, not an address domain


def test_every_provider_is_complete_and_dated() -> None:
    for p in DB:
        assert p.name_ja and p.name_en and p.source, p.id
        assert isinstance(p.last_checked, dt.date), p.id
        if p.status is not Status.OK:
            assert p.hint_ja and p.hint_en, f"{p.id}: users need to know what to do"
        if p.doc_url:
            assert p.doc_url.startswith("https://"), p.id


def test_table_is_loaded_once_and_ships_inside_the_package() -> None:
    assert load_providers() is load_providers()
    assert resources.files("bot.knowledge").joinpath("providers.toml").is_file()


# ---------------------------------------------------------------- the loader rejects bad data

GOOD_SERVER = """
[[provider.servers]]
protocol = "imap"
host = "imap.example.jp"
port = 993
security = "ssl"
confidence = "verified"
"""


def one_provider(extra: str = "", server: str = GOOD_SERVER, pid: str = "example") -> str:
    return f"""
[[provider]]
id = "{pid}"
name_ja = "例"
name_en = "Example"
domains = ["example.jp"]
status = "ok"
confidence = "verified"
auth = ["password"]
username = "address"
last_checked = 2026-03-12
{extra}
{server}
"""


def test_minimal_valid_table_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(one_provider(), encoding="utf-8")
    db = load_providers_file(path)
    p = db.by_domain("example.jp")
    assert p is not None
    assert p.servers_for(Protocol.IMAP)[0].username is Username.ADDRESS
    assert p.servers_for(Protocol.IMAP)[0].auth == (Auth.PASSWORD,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (one_provider(server=GOOD_SERVER.replace('"imap"', '"http"')), "unknown protocol 'http'"),
        (one_provider(server=GOOD_SERVER.replace('"ssl"', '"tls"')), "unknown security 'tls'"),
        (one_provider().replace('status = "ok"', 'status = "fine"'), "unknown status 'fine'"),
        (one_provider().replace('["password"]', '["pin"]'), "unknown auth 'pin'"),
        (one_provider().replace('"address"', '"email"'), "unknown username 'email'"),
        (one_provider(server=GOOD_SERVER.replace("993", "0")), "bad port 0"),
        (one_provider(server=GOOD_SERVER.replace("993", "70000")), "bad port 70000"),
        (one_provider(server=GOOD_SERVER.replace("993", '"993"')), "bad port '993'"),
        (one_provider(server=GOOD_SERVER.replace("993", "true")), "bad port True"),
        (
            one_provider(server=GOOD_SERVER.replace('"verified"', '"probably"')),
            "unknown confidence 'probably'",
        ),
        (
            one_provider(server=GOOD_SERVER.replace("host =", "hots =")),
            "unknown key",
        ),
        (
            one_provider(server=GOOD_SERVER.replace('host = "imap.example.jp"', "")),
            "exactly one of 'host' or 'host_pattern'",
        ),
        (one_provider().replace('"example.jp"', '"Example.JP"'), "bad domain 'Example.JP'"),
        (one_provider('domain_patterns = ["sakura.ne.jp"]'), "bad domain pattern"),
        (one_provider().replace("last_checked = 2026-03-12", ""), "missing 'last_checked'"),
        (one_provider().replace("2026-03-12", '"last week"'), "last_checked"),
    ],
)
def test_bad_data_fails_loudly_naming_the_provider(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="provider 'example'") as err:
        load_providers_file(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_duplicate_domain_names_both_providers() -> None:
    text = one_provider(pid="first") + one_provider(pid="second")
    with pytest.raises(ValueError, match=r"'example\.jp' is already listed by 'first'") as err:
        parse_providers(text)
    assert "'second'" in str(err.value)


def test_duplicate_id_and_mx_pattern_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate provider id 'same'"):
        parse_providers(
            one_provider(pid="same") + one_provider(pid="same").replace("example.jp", "other.jp")
        )
    mx = 'mx_patterns = ["*.mx.example.jp"]'
    second = one_provider(mx, pid="b").replace('"example.jp"]', '"other.jp"]')
    with pytest.raises(ValueError, match=r"mx pattern '\*\.mx\.example\.jp' is already listed"):
        parse_providers(one_provider(mx, pid="a") + second)


def test_broken_toml_and_empty_table_are_rejected() -> None:
    with pytest.raises(ValueError, match="invalid TOML"):
        parse_providers("[[provider]\nid = ")
    with pytest.raises(ValueError, match="provider"):
        parse_providers("")
