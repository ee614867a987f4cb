"""Discovery: each source finds settings, and every candidate is verified live before use."""

from __future__ import annotations

import pytest
from checks import recommended, run_check

from bot.knowledge.providers import parse_providers
from bot.model import Protocol

pytestmark = pytest.mark.usefixtures("mail_env")

TEST_PROVIDER = """
[[provider]]
id = "testmail"
name_ja = "テストメール"
name_en = "Test Mail"
domains = ["provider.test"]
status = "ok"
confidence = "verified"
auth = ["password"]
username = "address"
hint_ja = "特別な準備は要りません。"
hint_en = "Nothing to prepare."
last_checked = 2026-11-01
source = "tests"

[[provider.servers]]
protocol = "smtp"
host = "mail.good.test"
port = 465
security = "ssl"
confidence = "verified"

[[provider.servers]]
protocol = "imap"
host = "mail.good.test"
port = 993
security = "ssl"
confidence = "verified"
"""


async def test_built_in_provider_knowledge_is_verified_live() -> None:
    report = await run_check("taro@provider.test", providers=parse_providers(TEST_PROVIDER))
    assert report.provider is not None and report.provider.id == "testmail"
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 465, "ssl", "provider")
    assert recommended(report, Protocol.IMAP) == ("mail.good.test", 993, "ssl", "provider")


async def test_hosted_domain_is_recognised_by_its_mx() -> None:
    report = await run_check("taro@workspace.test", receive=False, timeout=3)
    assert report.provider is not None and report.provider.id == "google_workspace"
    probed = {r.endpoint.host for r in report.results if "provider" in r.sources}
    assert "smtp.gmail.com" in probed


async def test_the_domains_own_autoconfig_file(mailnet) -> None:
    report = await run_check("taro@autoconfig.test")
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 465, "ssl", "autoconfig")
    assert recommended(report, Protocol.POP3) == ("mail.good.test", 995, "ssl", "autoconfig")
    assert ("autoconfig.autoconfig.test", "/mail/config-v1.1.xml") in {
        (host, path.split("?")[0]) for host, path in mailnet.http_requests
    }


async def test_the_well_known_autoconfig_location() -> None:
    report = await run_check("taro@wellknown.test")
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 587, "starttls", "autoconfig")


async def test_thunderbird_ispdb() -> None:
    report = await run_check("taro@ispdb-listed.test")
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 465, "ssl", "ispdb")
    assert recommended(report, Protocol.IMAP) == ("mail.good.test", 993, "ssl", "ispdb")


async def test_srv_records() -> None:
    report = await run_check("taro@srv.test")
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 465, "ssl", "srv")
    assert recommended(report, Protocol.IMAP) == ("mail.good.test", 993, "ssl", "srv")
    assert recommended(report, Protocol.POP3) == ("mail.good.test", 995, "ssl", "srv")


async def test_settings_of_the_mx_hosts_domain() -> None:
    report = await run_check("taro@hosted.test")
    assert recommended(report, Protocol.SMTP) == ("mail.good.test", 465, "ssl", "mx")


async def test_guessing_when_nothing_else_knows() -> None:
    report = await run_check("taro@guess.test")
    assert recommended(report, Protocol.SMTP) == ("mail.guess.test", 465, "ssl", "guess")
    assert recommended(report, Protocol.IMAP) == ("mail.guess.test", 993, "ssl", "guess")
    assert not report.has_error


async def test_a_candidate_that_fails_is_never_recommended() -> None:
    # expired.test's only server has an expired certificate: nothing may be recommended.
    report = await run_check("taro@expired.test")
    assert all(rec is None for rec in report.recommended.values())
