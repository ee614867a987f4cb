"""Every finding code, produced by a real server misconfigured that way (tests/mailnet)."""

from __future__ import annotations

import time

import pytest
from checks import codes, finding, recommended, run_check

from bot.config import Settings
from bot.model import Protocol, Severity

pytestmark = pytest.mark.usefixtures("mail_env")


# -- DNS ---------------------------------------------------------------------------------------


async def test_typo_domain_is_not_found_and_the_right_one_suggested() -> None:
    report = await run_check("taro@gmial.com")
    f = finding(report, "dns.domain_not_found")
    assert f.severity is Severity.ERROR
    assert f.suggestion == "gmail.com"
    assert report.has_error


async def test_domain_without_mx(mailnet) -> None:
    report = await run_check("taro@nomx.test", receive=False)
    assert finding(report, "dns.no_mail_exchanger").severity is Severity.WARNING


async def test_null_mx_domain_accepts_no_mail() -> None:
    report = await run_check("taro@nullmx.test", receive=False)
    assert finding(report, "dns.null_mx").severity is Severity.ERROR


async def test_server_name_that_does_not_exist() -> None:
    report = await run_check(
        "taro@autoconfig.test", smtp="smtp.autoconfig.test:465/ssl", receive=False
    )
    assert finding(report, "dns.host_not_found").endpoint.host == "smtp.autoconfig.test"
    mismatch = finding(report, "settings.host_mismatch")
    assert mismatch.suggestion == "mail.good.test"
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 465, "ssl", "autoconfig")


async def test_dns_server_that_does_not_answer(mailnet) -> None:
    settings = Settings.from_env({**mailnet.env, "MAIL_DOCTOR_DNS_SERVERS": "127.0.0.54"})
    started = time.monotonic()
    report = await run_check("taro@good.test", settings=settings, timeout=3)
    assert "dns.resolver_failed" in codes(report)
    assert time.monotonic() - started < 3 + 2  # one deadline, not one per lookup


# -- the network -------------------------------------------------------------------------------


async def test_closed_port_is_refused_at_once() -> None:
    started = time.monotonic()
    report = await run_check(
        "taro@firewalled.test", smtp="mail.firewalled.test:465/ssl", receive=False
    )
    f = finding(report, "net.refused")
    assert f.endpoint.port == 465
    assert report.user_results[Protocol.SMTP].elapsed_ms < 1000
    assert time.monotonic() - started < 6 + 2


async def test_dropped_port_costs_one_timeout_and_is_called_a_firewall() -> None:
    report = await run_check(
        "taro@firewalled.test", smtp="mail.firewalled.test:587/starttls", receive=False, timeout=3
    )
    assert finding(report, "net.timeout").endpoint.port == 587
    assert report.elapsed_ms < 3000 + 1500


async def test_port_that_never_greets() -> None:
    report = await run_check(
        "taro@silent.test", smtp="mail.silent.test:587/starttls", receive=False, timeout=4
    )
    assert finding(report, "net.no_greeting").endpoint.host == "mail.silent.test"


async def test_unreachable_network(mailnet) -> None:
    settings = Settings.from_env({**mailnet.env, "MAIL_DOCTOR_ALLOW_NETWORKS": "2001:db8::/32"})
    report = await run_check(
        "taro@good.test", smtp="[2001:db8::25]:465/ssl", receive=False, settings=settings, timeout=3
    )
    assert "net.unreachable" in codes(report)


# -- the probe refuses to become a scanner -----------------------------------------------------


@pytest.mark.parametrize("host", ["loopback.test", "private.test", "linklocal.test"])
async def test_names_resolving_to_internal_addresses_are_refused(mailnet, host: str) -> None:
    settings = Settings.from_env(
        {k: v for k, v in mailnet.env.items() if k != "MAIL_DOCTOR_ALLOW_NETWORKS"}
    )
    report = await run_check("taro@good.test", smtp=f"{host}:587", receive=False, settings=settings)
    f = finding(report, "policy.internal_address")
    assert f.endpoint.host == host
    assert report.user_results[Protocol.SMTP].stages[-1].name == "connect"


async def test_ports_other_than_mail_ports_are_refused() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:22", receive=False)
    assert finding(report, "policy.port_not_allowed").params["port"] == 22


# -- TLS mode and certificates -----------------------------------------------------------------


async def test_ssl_on_the_starttls_port() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:587/ssl", receive=False)
    assert "tls.expects_starttls" in codes(report)
    # One coherent target: the port that works with SSL, 465 on the same host.
    mismatch = finding(report, "settings.port_mismatch")
    assert mismatch.suggestion == "465"
    assert mismatch.params["recommended"] == "mail.good.test:465/ssl"
    assert "settings.security_mismatch" not in codes(report)


async def test_starttls_on_the_tls_first_port() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:465/starttls", receive=False)
    assert "tls.expects_implicit" in codes(report)
    assert finding(report, "settings.security_mismatch").suggestion == "ssl"


async def test_plain_imap_on_the_tls_first_port() -> None:
    report = await run_check("taro@good.test", imap="mail.good.test:993/none", send=False)
    assert "tls.expects_implicit" in codes(report)


async def test_expired_certificate_names_the_date() -> None:
    report = await run_check("taro@expired.test", smtp="mail.expired.test:465/ssl", receive=False)
    f = finding(report, "tls.cert_expired")
    assert f.params["not_after"] < time.strftime("%Y-%m-%d")


async def test_expired_certificate_on_imap_without_settings() -> None:
    # No settings given: the server's own problem is still reported.
    report = await run_check("taro@expired.test", send=False)
    assert "tls.cert_expired" in codes(report)
    assert recommended(report, Protocol.IMAP) is None


async def test_not_yet_valid_certificate() -> None:
    report = await run_check("taro@future.test", smtp="mail.future.test:465/ssl", receive=False)
    f = finding(report, "tls.cert_not_yet_valid")
    assert f.params["not_before"] > time.strftime("%Y-%m-%d")


async def test_certificate_for_another_name_suggests_that_name() -> None:
    report = await run_check(
        "taro@wrongname.test", smtp="mail.wrongname.test:465/ssl", receive=False
    )
    assert finding(report, "tls.cert_hostname_mismatch").suggestion == "server.hoster.test"


async def test_self_signed_certificate() -> None:
    report = await run_check(
        "taro@selfsigned.test", smtp="mail.selfsigned.test:465/ssl", receive=False
    )
    assert "tls.cert_untrusted" in codes(report)


async def test_server_that_only_speaks_old_tls() -> None:
    report = await run_check("taro@legacy.test", smtp="mail.legacy.test:465/ssl", receive=False)
    f = finding(report, "tls.legacy_protocol")
    assert f.params.get("tls_version") in ("TLSv1", "TLSv1.1")


async def test_starttls_set_but_not_offered() -> None:
    report = await run_check("taro@notls.test", smtp="mail.notls.test:587/starttls", receive=False)
    assert "tls.starttls_not_offered" in codes(report)
    report = await run_check("taro@notls.test", imap="mail.notls.test:143/starttls", send=False)
    assert "tls.starttls_not_offered" in codes(report)


# -- SMTP --------------------------------------------------------------------------------------


async def test_sending_through_port_25() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:25/starttls", receive=False)
    # Port 25 answers here, but a submission port is known to work: that is the fix.
    assert finding(report, "smtp.port25_submission").severity is Severity.ERROR
    assert (
        finding(report, "settings.port_mismatch").params["recommended"] == "mail.good.test:465/ssl"
    )
    assert report.findings[0].code == "smtp.port25_submission"  # the explanation comes first


async def test_submission_port_without_auth() -> None:
    report = await run_check(
        "taro@noauth.test", smtp="mail.noauth.test:587/starttls", receive=False
    )
    assert "smtp.auth_not_offered" in codes(report)


async def test_auth_only_after_starttls_with_no_encryption_set() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:587/none", receive=False)
    f = finding(report, "smtp.auth_requires_tls")
    assert f.suggestion == "starttls"


async def test_greeting_that_refuses() -> None:
    report = await run_check(
        "taro@reject.test", smtp="mail.reject.test:587/starttls", receive=False
    )
    assert finding(report, "smtp.rejected").params["reply"].startswith("554")


# -- IMAP and POP3 -----------------------------------------------------------------------------


async def test_imap_without_encryption_cannot_log_in() -> None:
    report = await run_check("taro@good.test", imap="mail.good.test:143/none", send=False)
    assert finding(report, "imap.login_disabled").suggestion == "ssl"


async def test_pop3_without_encryption_cannot_log_in() -> None:
    report = await run_check("taro@good.test", pop3="mail.good.test:110/none", send=False)
    assert "pop3.login_disabled" in codes(report)


# -- authentication (only with a password, as an admin at a terminal) --------------------------


async def test_right_password_logs_in() -> None:
    report = await run_check(
        "alice@good.test",
        smtp="mail.good.test:465/ssl",
        imap="mail.good.test:993/ssl",
        pop3="mail.good.test:995/ssl",
        password="correct horse battery",
    )
    assert not report.has_error, report.findings
    for protocol in Protocol:
        assert report.user_results[protocol].auth == "ok"
    assert {f.code for f in report.findings if f.code == "settings.ok"} == {"settings.ok"}


async def test_wrong_password_is_refused_and_never_shown() -> None:
    report = await run_check(
        "alice@good.test",
        smtp="mail.good.test:587/starttls",
        receive=False,
        password="wrong pw 123",
    )
    f = finding(report, "auth.failed")
    assert "535" in f.params["reply"]
    assert "wrong pw 123" not in repr(report.findings)


async def test_account_that_needs_an_app_password() -> None:
    report = await run_check(
        "app@good.test", imap="mail.good.test:993/ssl", send=False, password="normal-password"
    )
    assert "auth.app_password_required" in codes(report)


async def test_server_that_only_offers_oauth() -> None:
    report = await run_check("taro@oauth.test", smtp="mail.oauth.test:587/starttls", receive=False)
    assert "XOAUTH2" in finding(report, "auth.oauth_required").params["mechanisms"]


async def test_provider_known_to_need_oauth() -> None:
    report = await run_check("taro@outlook.jp", receive=False, timeout=3)
    assert report.provider is not None and report.provider.id == "outlook_com"
    assert finding(report, "auth.oauth_required").params["source"] == "provider"


# -- comparing the person's settings with what works ------------------------------------------


async def test_wrong_security_is_explained_with_the_working_value() -> None:
    report = await run_check("taro@wellknown.test", imap="mail.good.test:143/ssl", send=False)
    assert "tls.expects_starttls" in codes(report)
    assert finding(report, "settings.security_mismatch").suggestion == "starttls"
    assert recommended(report, Protocol.IMAP) == ("mail.good.test", 143, "starttls", "autoconfig")


async def test_working_settings_are_confirmed() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:587/starttls", receive=False)
    assert codes(report) == {"settings.ok"}
    assert not report.has_error


async def test_tls_that_cannot_start() -> None:
    # The server's certificate and key do not belong together: it hangs up mid-handshake.
    report = await run_check(
        "taro@brokentls.test", smtp="mail.brokentls.test:465/ssl", receive=False
    )
    assert finding(report, "tls.handshake_failed").endpoint.port == 465


# -- whole checks: nothing lost, nothing merged --------------------------------------------------


async def test_each_protocols_wrong_setting_gets_its_own_findings() -> None:
    report = await run_check(
        "taro@good.test",
        smtp="mail.good.test:465/starttls",
        imap="mail.good.test:993/starttls",
        pop3="mail.good.test:995/starttls",
    )
    expects = {f.protocol for f in report.findings if f.code == "tls.expects_implicit"}
    assert expects == {Protocol.SMTP, Protocol.IMAP, Protocol.POP3}


async def test_nothing_works_is_an_error_not_silence() -> None:
    report = await run_check("taro@firewalled.test", timeout=3)
    assert "settings.not_found" in codes(report)
    assert report.has_error


async def test_a_tls_server_that_never_answers_is_reported_within_the_deadline() -> None:
    started = time.monotonic()
    report = await run_check(
        "taro@silent.test", imap="mail.silent.test:993/ssl", send=False, timeout=3
    )
    assert finding(report, "net.no_greeting").protocol is Protocol.IMAP
    assert time.monotonic() - started < 3 + 1


async def test_wrong_password_without_settings_is_checked_where_we_recommend() -> None:
    # good.test's servers are found by guessing names inside the domain: safe to log in there.
    report = await run_check("alice@good.test", send=False, password="not the password")
    assert "auth.failed" in codes(report)
    assert report.login_results[Protocol.IMAP].auth == "failed"
    report = await run_check("alice@good.test", send=False, password="correct horse battery")
    assert not report.has_error
    assert report.login_results[Protocol.IMAP].auth == "ok"


async def test_no_password_goes_to_a_server_named_only_by_dns_outside_the_domain() -> None:
    # srv.test's SRV records point into another domain (RFC 6186 §6): no login there.
    report = await run_check("alice@srv.test", send=False, password="correct horse battery")
    assert report.recommended[Protocol.IMAP] is not None
    assert report.login_results == {}


async def test_wrong_password_does_not_blame_the_settings() -> None:
    report = await run_check(
        "alice@good.test", smtp="mail.good.test:587/starttls", receive=False, password="nope nope"
    )
    assert "auth.failed" in codes(report)
    assert not {c for c in codes(report) if c.startswith("settings.")}
