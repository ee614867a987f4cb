"""The provider table as the diagnosis sees it, and the loader's refusal of bad data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pytest

from bot.knowledge.providers import (
    Auth,
    Confidence,
    Deprecation,
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


# ---------------------------------------------------------------- providers added for issue 4


@pytest.mark.parametrize(
    ("domain", "provider_id"),
    [
        ("so-net.ne.jp", "so_net"),
        ("plala.or.jp", "plala"),
        ("abc.plala.or.jp", "plala"),
        ("zoho.com", "zoho"),
        ("zohomail.com", "zoho"),
        ("zoho.jp", "zoho_jp"),
        ("zohomail.jp", "zoho_jp"),
        ("yahoo.com", "yahoo_global"),
        ("ymail.com", "yahoo_global"),
        ("rocketmail.com", "yahoo_global"),
        ("yahoo.co.uk", "yahoo_global"),
        ("yahoo.co.in", "yahoo_global"),
        ("aol.com", "aol"),
        ("aim.com", "aol"),
        ("gmx.com", "gmx_com"),
        ("gmx.net", "gmx_net"),
        ("gmx.de", "gmx_net"),
        ("fastmail.com", "fastmail"),
        ("fastmail.fm", "fastmail"),
    ],
)
def test_new_providers_by_domain(domain: str, provider_id: str) -> None:
    assert provider(domain).id == provider_id
    assert domain in DB.known_domains() or domain == "abc.plala.or.jp"


@pytest.mark.parametrize(
    ("mx", "provider_id"),
    [
        ("in1-smtp.messagingengine.com", "fastmail"),
        ("IN2-SMTP.MESSAGINGENGINE.COM.", "fastmail"),
        ("mx.zoho.com", "zoho"),
        ("mx3.zoho.com", "zoho"),
        ("mx2.zoho.jp", "zoho_jp"),
        ("203-0-113-5.cprapid.com", "cpanel"),
        ("kind-lovelace.203-0-113-5.plesk.page", "plesk"),
    ],
)
def test_hosted_domains_found_by_mx(mx: str, provider_id: str) -> None:
    found = DB.by_mx(mx)
    assert found is not None and found.id == provider_id


def test_fastmail_custom_domain_gets_fastmail_servers() -> None:
    fastmail = DB.by_mx("in1-smtp.messagingengine.com")
    assert fastmail is not None
    assert fastmail is provider("fastmail.com")
    smtp = fastmail.servers_for(Protocol.SMTP)[0]
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.fastmail.com", 465, Security.SSL)
    assert fastmail.servers_for(Protocol.IMAP)[0].host == "imap.fastmail.com"
    assert fastmail.auth == (Auth.OAUTH2, Auth.APP_PASSWORD)
    assert fastmail.status is Status.PREPARATION


def test_gmx_com_and_gmx_net_use_different_servers() -> None:
    com, net = provider("gmx.com"), provider("gmx.net")
    assert com is not net
    assert com.servers_for(Protocol.IMAP)[0].host == "imap.gmx.com"
    assert net.servers_for(Protocol.IMAP)[0].host == "imap.gmx.net"
    assert {s.host for s in net.servers_for(Protocol.SMTP)} == {"mail.gmx.net"}
    assert "POP3/IMAP" in net.enable("ja") and "POP3" in net.enable("en")


def test_zoho_japan_is_not_the_zoho_com_data_centre() -> None:
    jp = provider("zoho.jp")
    assert [s.host for s in jp.servers_for(Protocol.IMAP)] == ["imap.zoho.jp", "imappro.zoho.jp"]
    assert jp.servers_for(Protocol.IMAP)[0].confidence is Confidence.VERIFIED
    assert jp.servers_for(Protocol.IMAP)[1].confidence is Confidence.SECONDARY
    assert "IMAPアクセス" in jp.enable("ja") and "IMAP Access" in jp.enable("en")
    assert provider("zoho.com").servers_for(Protocol.SMTP)[0].host == "smtp.zoho.com"


def test_aol_is_not_matched_by_its_shared_yahoo_mx() -> None:
    aol = provider("aol.com")
    assert aol.mx_patterns == ()
    assert DB.by_mx("mx-aol.mail.gm0.yahoodns.net") is None
    assert [s.host for s in aol.servers] == ["smtp.aol.com", "imap.aol.com", "pop.aol.com"]
    assert Auth.APP_PASSWORD in aol.auth


def test_panel_servers_are_found_by_their_host_name() -> None:
    cpanel = DB.by_host("198-51-100-7.cprapid.com")
    assert cpanel is not None and cpanel.id == "cpanel"
    imap = cpanel.servers_for(Protocol.IMAP)[0]
    assert (imap.port, imap.security, imap.host) == (993, Security.SSL, "")
    assert imap.host_for("198-51-100-7.cprapid.com") == "198-51-100-7.cprapid.com"
    assert imap.host_for("example.com") is None  # the person must tell us the server
    plesk = DB.by_host("kind-lovelace.203-0-113-5.plesk.page")
    assert plesk is not None and plesk.id == "plesk"
    assert plesk.confidence is Confidence.UNVERIFIED
    assert all(s.confidence is Confidence.UNVERIFIED for s in plesk.servers)


def test_generic_hosting_is_a_description_that_no_lookup_returns() -> None:
    generic = DB.by_id("generic_hosting")
    assert generic is not None and generic.generic
    assert not (generic.domains or generic.domain_patterns or generic.mx_patterns)
    for lookup in (DB.by_host, DB.by_mx, DB.by_domain):
        assert lookup("mail.example.com") is None
    imap = generic.servers_for(Protocol.IMAP)[0]
    assert (imap.host_pattern, imap.port, imap.security) == ("mail.*", 993, Security.SSL)
    assert imap.host_for("mail.example.com") == "mail.example.com"
    assert generic.servers_for(Protocol.SMTP)[0].port == 465
    assert not any(s.confidence.may_state_as_fact for s in generic.servers)  # the probe decides
    assert "証明書" in generic.hint_ja and "certificate" in generic.hint_en
    assert all(not p.generic for p in DB if p.id != "generic_hosting")


# ---------------------------------------------------------------- enable, username notes


def test_yahoo_japan_must_switch_on_imap_pop_smtp_access_first() -> None:
    yj = provider("yahoo.co.jp")
    assert "IMAP/POP/SMTPアクセス" in yj.enable("ja")
    assert "IMAP/POP/SMTP access" in yj.enable("en")
    assert yj.enable() == yj.enable_ja
    assert "Yahoo! JAPAN ID" in yj.username_note("ja")
    assert "Yahoo! JAPAN ID" in yj.username_note("en")


@pytest.mark.parametrize(
    ("domain", "ja", "en"),
    [
        ("gmail.com", "POPを有効にする", "Enable POP"),
        ("gmail.com", "2段階認証プロセス", "2-Step Verification"),
        ("outlook.com", "POP", "Let devices and apps use POP"),
        ("gmx.de", "POP3/IMAP", "POP3 & IMAP"),
        ("zoho.com", "IMAPアクセス", "IMAP Access"),
        ("docomo.ne.jp", "IMAP専用パスワード", "IMAP-only password"),
    ],
)
def test_enable_texts_say_what_to_switch_on(domain: str, ja: str, en: str) -> None:
    p = provider(domain)
    assert ja in p.enable("ja")
    assert en in p.enable("en")


def test_enable_is_empty_where_nothing_is_known_to_switch_on() -> None:
    assert provider("ocn.ne.jp").enable("ja") == "" == provider("ocn.ne.jp").enable("en")
    assert provider("icloud.com").username_note("ja")  # but iCloud has a user-name rule


def test_enable_texts_come_in_both_languages_and_unverified_ones_say_so() -> None:
    for p in DB:
        assert bool(p.enable_ja) == bool(p.enable_en), p.id
        assert bool(p.username_note_ja) == bool(p.username_note_en), p.id
        for ja, en in ((p.enable_ja, p.enable_en), (p.username_note_ja, p.username_note_en)):
            assert ("未確認" in ja) == ("unverified" in en), p.id


def test_username_notes_for_special_user_names() -> None:
    assert "dアカウント" in provider("docomo.ne.jp").username_note("ja")
    assert "d ACCOUNT ID" in provider("docomo.ne.jp").username_note("en")
    icloud = provider("icloud.com")
    assert "@より前" in icloud.username_note("ja")
    assert "IMAP" in icloud.username_note("en") and "SMTP" in icloud.username_note("en")
    assert provider("gmail.com").username_note() == ""


# ---------------------------------------------------------------- dated deprecations


def dates(deprecations: Iterable[Deprecation]) -> list[dt.date]:
    return [d.date for d in deprecations]


def test_deprecations_of_the_reference_are_recorded() -> None:
    outlook = provider("outlook.com")
    oauth_only = next(d for d in outlook.deprecations if d.date == dt.date(2024, 9, 16))
    assert oauth_only.confidence is Confidence.SECONDARY
    assert "OAuth2" in oauth_only.what_en
    windows_mail = next(d for d in outlook.deprecations if d.date == dt.date(2024, 12, 31))
    assert windows_mail.confidence is Confidence.UNVERIFIED

    workspace = DB.by_id("google_workspace")
    assert workspace is not None
    lsa = {d.date: d.confidence for d in workspace.deprecations}
    assert lsa == {
        dt.date(2024, 9, 30): Confidence.SECONDARY,
        dt.date(2025, 3, 14): Confidence.UNVERIFIED,
    }

    m365 = DB.by_id("microsoft_365")
    assert m365 is not None
    assert {dt.date(2022, 10, 1), dt.date(2026, 12, 31)} <= set(dates(m365.deprecations))
    smtp = next(d for d in m365.deprecations if d.date == dt.date(2026, 12, 31))
    assert "2026-01-27" in smtp.what_en and "2026年12月末" in smtp.what_ja

    gmail = provider("gmail.com")
    gmailify = [d for d in gmail.deprecations if "Gmailify" in d.what_en]
    assert len(gmailify) == 2 and all(d.date.year == 2026 for d in gmailify)


def test_deprecations_in_force_newest_first() -> None:
    m365 = DB.by_id("microsoft_365")
    assert m365 is not None
    assert m365.deprecations_for(dt.date(2022, 9, 30)) == []
    assert dates(m365.deprecations_for(dt.date(2022, 10, 1))) == [dt.date(2022, 10, 1)]
    assert dates(m365.deprecations_for(dt.date(2026, 12, 30))) == [dt.date(2022, 10, 1)]
    assert dates(m365.deprecations_for(dt.date(2027, 1, 1))) == [
        dt.date(2026, 12, 31),
        dt.date(2022, 10, 1),
    ]
    # A datetime is taken as its calendar day.
    assert m365.deprecations_for(dt.datetime(2026, 12, 31, 23, 59)) == m365.deprecations_for(
        dt.date(2026, 12, 31)
    )
    gmail = provider("gmail.com")
    in_2026 = gmail.deprecations_for(dt.date(2026, 6, 1))
    assert dates(in_2026) == [dt.date(2026, 1, 1), dt.date(2022, 5, 30)]
    assert in_2026[0].in_force(dt.date(2026, 6, 1))
    assert not in_2026[0].in_force(dt.date(2025, 12, 31))
    assert provider("ocn.ne.jp").deprecations_for(dt.date(2019, 9, 30)) == []
    assert provider("au.com").deprecations_for(dt.date(2030, 1, 1)) == []


def test_every_deprecation_is_dated_explained_and_honest() -> None:
    for p in DB:
        for d in p.deprecations:
            assert isinstance(d.date, dt.date) and isinstance(d.last_checked, dt.date), p.id
            assert d.what("ja") == d.what_ja and d.what("en") == d.what_en
            assert d.what_ja and d.what_en and d.source, p.id
            if d.confidence is Confidence.UNVERIFIED:
                assert "未確認" in d.what_ja, (p.id, d.date)
                assert "unverified" in d.what_en, (p.id, d.date)


def test_every_new_row_is_dated() -> None:
    for pid in ("aol", "gmx_com", "gmx_net", "zoho", "zoho_jp", "fastmail", "cpanel", "plesk"):
        p = DB.by_id(pid)
        assert p is not None, pid
        assert p.last_checked >= dt.date(2026, 11, 1), pid


# ---------------------------------------------------------------- schema additions


def test_old_rows_load_with_empty_defaults(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(one_provider(), encoding="utf-8")
    p = load_providers_file(path).by_id("example")
    assert p is not None
    assert (p.enable("ja"), p.enable("en"), p.username_note("ja")) == ("", "", "")
    assert p.deprecations == () and p.deprecations_for(dt.date(2100, 1, 1)) == []
    assert not p.generic


def test_provider_built_in_code_the_old_way_still_works() -> None:
    p = Provider(
        id="x",
        name_ja="X",
        name_en="X",
        status=Status.OK,
        confidence=Confidence.VERIFIED,
        auth=(Auth.PASSWORD,),
        username=Username.ADDRESS,
        servers=(),
        last_checked=dt.date(2026, 3, 12),
    )
    assert p.enable() == "" and p.deprecations_for(dt.date(2026, 3, 12)) == []


DEPRECATION = """
[[provider.deprecations]]
date = 2024-09-16
what_ja = "パスワードでは使えなくなりました。"
what_en = "Passwords stopped working."
confidence = "secondary"
"""


def test_deprecation_table_loads_and_inherits_last_checked() -> None:
    db = parse_providers(one_provider(DEPRECATION))
    p = db.by_id("example")
    assert p is not None
    (d,) = p.deprecations
    assert d == Deprecation(
        dt.date(2024, 9, 16),
        "パスワードでは使えなくなりました。",
        "Passwords stopped working.",
        Confidence.SECONDARY,
        last_checked=dt.date(2026, 3, 12),
    )
    own = parse_providers(one_provider(DEPRECATION + "last_checked = 2026-11-29\n"))
    assert [d.last_checked for p in own for d in p.deprecations] == [dt.date(2026, 11, 29)]
    both = parse_providers(one_provider('enable_ja = "オン"\nenable_en = "On"\n' + DEPRECATION))
    assert [p.enable("en") for p in both] == ["On"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (DEPRECATION.replace("2024-09-16", '"2024-09-31"'), "'date' must be a date"),
        (DEPRECATION.replace("2024-09-16", '"September 2024"'), "'date' must be a date"),
        (DEPRECATION.replace("2024-09-16", '"20240916"'), "'date' must be a date"),
        (DEPRECATION.replace("2024-09-16", "2024-09-16T00:00:00"), "'date' must be a date"),
        (DEPRECATION.replace("date = 2024-09-16\n", ""), "missing 'date'"),
        (DEPRECATION.replace("what_en =", "what_eng ="), "unknown key(s) what_eng"),
        (DEPRECATION.replace('what_en = "Passwords stopped working."\n', ""), "missing 'what_en'"),
        (DEPRECATION.replace('"secondary"', '"rumour"'), "unknown confidence 'rumour'"),
        (DEPRECATION.replace('confidence = "secondary"\n', ""), "missing 'confidence'"),
        (DEPRECATION + 'last_checked = "soon"\n', "'last_checked' must be a date"),
        ('deprecations = "2024-09-16"', "'deprecations' must be an array of tables"),
        ('enable = "IMAP"', "unknown key(s) enable"),
        ('enable_ja = "IMAPをオン"', "give both 'enable_ja' and 'enable_en'"),
        ('username_note_en = "ID"', "give both 'username_note_ja' and 'username_note_en'"),
        ('enable_ja = ""\nenable_en = ""', "'enable_ja' must be a non-empty string"),
        ("generic = true", "a generic entry has no domains"),
        ('generic = "yes"', "'generic' must be true or false"),
    ],
)
def test_bad_new_fields_fail_loudly_naming_the_provider(
    tmp_path: Path, extra: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(one_provider(extra), encoding="utf-8")
    with pytest.raises(ValueError, match="provider 'example'") as err:
        load_providers_file(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_generic_entry_needs_no_domains_and_stays_out_of_lookups() -> None:
    text = one_provider("generic = true").replace('domains = ["example.jp"]\n', "")
    text = text.replace('host = "imap.example.jp"', 'host_pattern = "mail.*"')
    db = parse_providers(text)
    generic = db.by_id("example")
    assert generic is not None and generic.generic
    assert db.by_host("mail.example.jp") is None and db.by_domain("example.jp") is None
    with pytest.raises(ValueError, match="needs at least one of domains"):
        parse_providers(one_provider().replace('domains = ["example.jp"]\n', ""))
