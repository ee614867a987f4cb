"""Hostile or broken mail servers (tests/mailnet/hostile.py): every check ends within its deadline,
with bounded memory and a finding that says what the server did; never a hang, a traceback, or
one person's check slowing another's."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import dns.resolver
import pytest
from checks import codes, run_check
from faults import Record, record_fault
from mailnet import MailNet
from mailnet.hostile import FAULTS, V6ONLY_NETWORK, Fault
from mailnet.layout import V6ONLY_IP

from bot.config import Settings
from bot.diagnosis.render import finding_texts, to_json
from bot.probes.dns import DnsClient
from bot.probes.transport import MAX_CONNECTION_READ, MAX_LINE

# The runner the fault suite calls; the tests use the same code, so it stays runnable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from faults_servers import DEADLINE, measure_fault

pytestmark = pytest.mark.usefixtures("mail_env")

MARGIN = 1.0  # seconds past the deadline: the engine's grace to collect the probes, and slack
MEMORY_LIMIT = 20 * 1024 * 1024  # bytes; the largest fault sends 10 MB


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
async def test_each_fault_ends_in_time_with_bounded_memory_and_says_what_happened(
    mailnet: MailNet, fault: Fault, record_property: Record
) -> None:
    result = await measure_fault(fault, mailnet.env)
    record_fault(
        record_property,
        result.get("what") or fault.name,
        "server",
        result["seconds"],
        code=fault.code if fault.code in result["codes"] else ",".join(result["codes"]),
        peak_bytes=result["peak_bytes"],
    )
    assert not result["traceback"], result["traceback_text"]
    assert fault.code in result["codes"], result["codes"]
    assert not set(fault.absent) & set(result["codes"]), result["codes"]
    assert result["seconds"] < DEADLINE + MARGIN, result
    assert result["peak_bytes"] < MEMORY_LIMIT, result


async def test_reads_are_capped_whatever_the_server_sends(mailnet: MailNet) -> None:
    # 10 MB arrive as fast as loopback carries them; the probe reads at most the caps.
    report = await run_check(
        "taro@hugecaps.test", smtp="mail.hugecaps.test:587/starttls", receive=False, timeout=3
    )
    probe = report.user_results[next(iter(report.user_results))]
    assert probe.failure == "too_long"
    assert "more than" in probe.detail
    assert MAX_LINE <= 8192 and MAX_CONNECTION_READ <= 1024 * 1024
    report = await run_check(
        "taro@hugebanner.test", smtp="mail.hugebanner.test:587/starttls", receive=False, timeout=3
    )
    probe = report.user_results[next(iter(report.user_results))]
    assert probe.detail == f"a line longer than {MAX_LINE} bytes"
    assert probe.greeting is None  # nothing of the 10 MB is kept


@pytest.mark.parametrize("spec", ["mail.binary.test:587/starttls", "mail.binary.test:25/none"])
async def test_nul_bytes_invalid_utf8_and_escapes_never_reach_the_output(spec: str) -> None:
    report = await run_check("taro@binary.test", smtp=spec, receive=False, timeout=3)
    for lang in ("ja", "en"):
        text = json.dumps(to_json(report, lang), ensure_ascii=False)
        text.encode("utf-8")  # no lone surrogates
        for finding in report.findings:
            text += "".join(finding_texts(finding, lang))
        for bad in ("\x00", "\x1b", "\x9b", "\\u0000", "\\u001b"):
            assert bad not in text, (bad, text[:500])
    # The server's words are still shown, as far as they are text.
    assert "binary" in json.dumps(to_json(report, "en"))


async def test_a_working_server_with_dirty_replies_is_understood() -> None:
    report = await run_check(
        "taro@binary.test", smtp="mail.binary.test:25/none", receive=False, timeout=3
    )
    probe = next(iter(report.user_results.values()))
    assert probe.ok, (probe.failure, probe.detail)
    assert probe.greeting is not None and probe.greeting.startswith("220 mail.binary.test")
    assert "PLAIN" in probe.auth_mechanisms


async def test_starttls_then_garbage_is_a_failed_handshake_not_a_wrong_setting() -> None:
    report = await run_check(
        "taro@tlsgarbage.test", smtp="mail.tlsgarbage.test:587/starttls", receive=False, timeout=3
    )
    probe = next(iter(report.user_results.values()))
    assert [s.name for s in probe.stages][-2:] == ["starttls", "tls"]
    assert "not TLS" in probe.detail
    # The setting is right (the server broke its promise): nothing tells the person to change it.
    assert not {c for c in codes(report) if c.startswith("settings.")} - {"settings.not_found"}


async def test_a_huge_txt_answer_is_read_whole_and_the_spf_record_found(mailnet: MailNet) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [mailnet.dns_server]
    answer = [b"".join(r.strings) for r in resolver.resolve("hugetxt.test", "TXT", tcp=True)]
    assert len(answer) == 200 and sum(map(len, answer)) > 45_000
    assert [t.startswith(b"v=spf1") for t in answer].index(True) > 100  # far past any cap
    texts = await DnsClient((mailnet.dns_server,)).txt("hugetxt.test")
    assert any(t.startswith("v=spf1") for t in texts)
    assert all(len(t) <= 4096 for t in texts)


async def test_a_cname_loop_is_named_as_such() -> None:
    report = await run_check("taro@loop1.cnameloop.test", receive=False, timeout=3)
    finding = next(f for f in report.findings if f.code == "dns.cname_loop")
    assert finding.params["host"] == "loop1.cnameloop.test"
    message, fix = finding_texts(finding, "en")
    assert "loop" in message and "loop1.cnameloop.test" in fix


async def test_an_mx_that_is_an_address_is_named() -> None:
    report = await run_check("taro@mxliteral.test", timeout=3)
    finding = next(f for f in report.findings if f.code == "dns.mx_is_address")
    assert finding.params["host"] == "192.0.2.1"
    assert finding.severity == "error"  # receiving: no mail server delivers there
    report = await run_check("taro@mxliteral.test", receive=False, timeout=3)
    assert next(f for f in report.findings if f.code == "dns.mx_is_address").severity == "warning"


async def test_an_ipv6_only_server_is_not_blamed_on_the_persons_connection(
    mailnet: MailNet,
) -> None:
    env = {**mailnet.env, "MAIL_DOCTOR_ALLOW_NETWORKS": f"127.0.0.0/8,{V6ONLY_NETWORK}"}
    report = await run_check(
        "taro@v6only.test",
        smtp="mail.v6only.test:587/starttls",
        receive=False,
        settings=Settings.from_env(env),
        timeout=3,
    )
    finding = next(f for f in report.findings if f.code == "net.ipv6_only")
    assert finding.params["detail"] == V6ONLY_IP
    message, _ = finding_texts(finding, "en")
    assert "only IPv6" in message and V6ONLY_IP in message
    assert "net.unreachable" not in codes(report)


async def _timed(coro: object) -> float:
    started = time.monotonic()
    await coro  # type: ignore[misc]
    return time.monotonic() - started


async def _good_check() -> None:
    report = await run_check("taro@good.test", smtp="mail.good.test:587/starttls", timeout=6)
    assert "settings.ok" in codes(report), report.findings


async def test_a_drip_feeding_server_does_not_slow_another_check() -> None:
    alone = min([await _timed(_good_check()) for _ in range(3)])
    drip = asyncio.ensure_future(
        run_check("taro@drip.test", smtp="mail.drip.test:587/starttls", receive=False, timeout=6)
    )
    await asyncio.sleep(0.3)  # the drip is under way
    together = await _timed(_good_check())
    assert not drip.done()
    assert "net.too_slow" in codes(await drip)
    assert together < alone * 1.5 + 0.3, (alone, together)


async def test_every_hostile_server_at_once_does_not_slow_another_check() -> None:
    alone = min([await _timed(_good_check()) for _ in range(3)])
    hostile = [
        asyncio.ensure_future(run_check(f.address, timeout=5, **f.check))  # type: ignore[arg-type]
        for f in FAULTS
        if f.name in ("drip", "hugebanner", "hugecaps", "endless", "binary", "tlscut")
    ]
    await asyncio.sleep(0.3)
    together = await _timed(_good_check())
    await asyncio.gather(*hostile)
    assert together < alone * 1.5 + 0.5, (alone, together)


HOSTILE_DOMAINS = [
    "drip.test",
    "hugebanner.test",
    "hugecaps.test",
    "endless.test",
    "binary.test",
    "tlsgarbage.test",
    "tlscut.test",
    "v6only.test",
    "cnameloop.test",
    "loop1.cnameloop.test",
    "mxliteral.test",
    "hugetxt.test",
]


@pytest.mark.parametrize("domain", HOSTILE_DOMAINS)
async def test_a_whole_check_without_settings_ends_in_time(
    domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Discovery, guessing and the TLS look-aheads meet the hostile servers too.
    started = time.monotonic()
    report = await run_check(f"taro@{domain}", timeout=DEADLINE)
    assert time.monotonic() - started < DEADLINE + MARGIN
    assert report.findings
    assert not [r for r in caplog.records if r.exc_info], caplog.text
