"""「相手に届かない」: the recipient's domain and what it asks of senders, against the test DNS."""

from __future__ import annotations

import pytest
from checks import codes, finding, run_check

from bot.model import Severity

pytestmark = pytest.mark.usefixtures("mail_env")


async def test_a_typo_in_the_recipients_domain() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="hanako@gmial.com")
    f = finding(report, "recipient.domain_not_found")
    assert f.suggestion == "gmail.com" and f.severity is Severity.ERROR


async def test_a_recipient_domain_that_accepts_no_mail() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="x@nullmx.test")
    assert "recipient.null_mx" in codes(report)


async def test_a_recipient_domain_whose_mail_server_does_not_exist() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="x@dangling.test")
    assert finding(report, "recipient.mx_host_not_found").params["host"] == "mx.nowhere.test"


async def test_a_recipient_domain_whose_mx_is_an_address() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="x@mxliteral.test")
    f = finding(report, "recipient.mx_is_address")
    assert f.params["host"] == "192.0.2.1" and f.severity == "error"
    assert "recipient.mx_host_not_found" not in codes(report)


async def test_a_recipient_domain_without_mx() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="x@nomx.test")
    assert "recipient.no_mail_exchanger" in codes(report)


async def test_gmail_rejects_senders_without_spf_and_wants_dmarc() -> None:
    # nomx.test publishes neither SPF nor DMARC; gmail.com is a strict receiver.
    report = await run_check("taro@nomx.test", receive=False, recipient="hanako@gmail.com")
    assert finding(report, "sender.no_spf").severity is Severity.ERROR
    assert finding(report, "sender.no_dmarc").severity is Severity.WARNING
    assert finding(report, "sender.no_spf").params["receiver"] == "Gmail"


async def test_a_sender_with_spf_and_dmarc_is_fine() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="hanako@gmail.com")
    assert not {c for c in codes(report) if c.startswith(("sender.", "recipient."))}


async def test_mobile_carrier_filters_are_explained() -> None:
    report = await run_check("taro@good.test", receive=False, recipient="hanako@docomo.ne.jp")
    f = finding(report, "recipient.carrier_filter")
    assert f.params["carrier"] == "docomo"


def test_the_command_line_takes_a_recipient(mailnet) -> None:
    import json
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "check",
            "taro@nomx.test",
            "--send",
            "--json",
            "--recipient",
            "hanako@gmail.com",
            "--lang",
            "ja",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **mailnet.env},
        timeout=60,
    )
    report = json.loads(done.stdout)
    spf = next(f for f in report["findings"] if f["code"] == "sender.no_spf")
    assert "SPF" in spf["message"] and "Gmail" in spf["message"]
