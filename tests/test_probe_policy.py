"""The probe as a weapon: internal addresses, DNS rebinding, non-mail ports and fan-out.

Every test runs real checks against the test network. An "internal service" canary listens on
127.0.0.1 (and ::1) on the mail and web ports, and the hostile peers count every connection they
accept (tests/mailnet/hostile.py), so "refused" means nothing arrived, not only that a finding
says so. The allowed networks are the hostile peers' network only (HOSTILE_NETWORK), which keeps
127.0.0.1 internal. The refusals of 127.0.0.1, 10.x and 169.254.x names are in
test_check_findings.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest
from checks import codes, run_check
from mailnet import MailNet
from mailnet.layout import (
    CANARY_IP,
    FANOUT_HOSTS,
    FANWEB_IP,
    HOSTILE_NETWORK,
    INTERNAL_NAMES,
    PORTSCAN_IP,
    REBIND_IP,
    fan_ip,
)

from bot.config import Settings
from bot.diagnosis.engine import Report
from bot.model import MAIL_PORTS, Protocol
from bot.netpolicy import PolicyRefused
from bot.probes.result import Failure
from bot.probes.transport import (
    ADDRESSES_PER_CONNECT,
    MAX_ADDRESSES_PER_CHECK,
    MAX_CONNECTIONS_PER_CHECK,
    ConnectFailed,
    ConnectionBudget,
    open_tcp,
)

pytestmark = pytest.mark.usefixtures("mail_env")

CANARY_ADDRESSES = ("::1", CANARY_IP)
SETTLE = 0.2  # seconds for the peers' thread to count a connection it has accepted


def settings(mailnet: MailNet, allow: str = HOSTILE_NETWORK) -> Settings:
    return Settings.from_env({**mailnet.env, "MAIL_DOCTOR_ALLOW_NETWORKS": allow})


async def send_check(
    mailnet: MailNet, smtp: str, allow: str = HOSTILE_NETWORK, address: str = "taro@good.test"
) -> Report:
    """A send-only check of `address` through the SMTP server `smtp`, within 3 seconds, with
    `allow` as the allowed networks."""
    return await run_check(
        address, smtp=smtp, receive=False, settings=settings(mailnet, allow), timeout=3
    )


async def counted(
    mailnet: MailNet, ip: str | None = None, ports: tuple[int, ...] | None = None
) -> int:
    """Connections the peers accepted, once their thread has caught up (it counts on accept)."""
    await asyncio.sleep(SETTLE)
    return mailnet.hostile.connections(ip, ports)


async def canary(mailnet: MailNet) -> int:
    await asyncio.sleep(SETTLE)
    return sum(mailnet.hostile.connections(ip) for ip in CANARY_ADDRESSES)


@pytest.fixture(autouse=True)
def _fresh_counts(mailnet: MailNet) -> None:
    mailnet.hostile.clear()


# -- names that resolve to internal addresses are refused at connect time ---------------------


@pytest.mark.parametrize("name", sorted(INTERNAL_NAMES))
async def test_internal_address_is_refused_at_connect_time(mailnet: MailNet, name: str) -> None:
    report = await send_check(mailnet, f"{name}:587")
    probe = report.user_results[Protocol.SMTP]
    assert probe.failure is Failure.POLICY_INTERNAL, (probe.failure, probe.detail)
    assert [s.name for s in probe.stages] == ["dns", "connect"]  # resolved, then refused
    assert probe.detail == INTERNAL_NAMES[name]  # the address, not the name, was judged
    assert "policy.internal_address" in codes(report)
    assert await canary(mailnet) == 0


def _allow_for(address: str) -> str:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        return f"{ip}/128,{ip.sixtofour}/32"  # and the IPv4 site it leads to
    return f"{ip}/{ip.max_prefixlen}"


@pytest.mark.parametrize("name", sorted(set(INTERNAL_NAMES) - {"unspecified.test"}))
async def test_allowed_networks_open_internal_addresses(mailnet: MailNet, name: str) -> None:
    allow = _allow_for(INTERNAL_NAMES[name])
    report = await send_check(mailnet, f"{name}:587", allow)
    probe = report.user_results[Protocol.SMTP]
    assert probe.failure is not Failure.POLICY_INTERNAL, probe.detail
    assert "policy.internal_address" not in codes(report)
    assert probe.stages[1].name == "connect"  # it was dialled; what happened then is the network's


async def test_the_address_actually_connected_to_is_checked(mailnet: MailNet) -> None:
    # Connecting to 0.0.0.0 reaches this host itself (127.0.0.1). Allowing 0.0.0.0 alone does
    # not open 127.0.0.1: the peer address of the connection is checked too.
    report = await send_check(mailnet, "unspecified.test:587", "0.0.0.0/32")
    probe = report.user_results[Protocol.SMTP]
    assert probe.failure is Failure.POLICY_INTERNAL
    assert probe.detail == "127.0.0.1"
    # Allowing both: the canary is reached, which is why 0.0.0.0 is internal.
    before = await canary(mailnet)
    report = await send_check(mailnet, "unspecified.test:587", "0.0.0.0/32,127.0.0.1/32")
    assert "policy.internal_address" not in codes(report)
    assert await canary(mailnet) > before


async def test_only_the_public_address_of_a_mixed_name_is_dialled(mailnet: MailNet) -> None:
    # mixed.test has a harmless address and ::1: the probe uses the first and never the second.
    report = await send_check(mailnet, "mixed.test:587/none")
    assert report.user_results[Protocol.SMTP].ip == REBIND_IP
    assert await counted(mailnet, REBIND_IP, (587,)) >= 1
    assert await canary(mailnet) == 0


# -- DNS rebinding: the answer changes between lookups; the checked address is the dialled one --


async def test_a_dns_answer_that_changes_cannot_reach_an_internal_address(
    mailnet: MailNet,
) -> None:
    # rebind.test answers REBIND_IP to the first query and 127.0.0.1 to every later one (TTL 0,
    # through dnsmasq, which forwards it to the hostile DNS peer uncached).
    report = await run_check(
        "taro@rebind.test",
        smtp="rebind.test:587/none",
        imap="rebind.test:143/none",
        pop3="rebind.test:110/none",
        settings=settings(mailnet),
        timeout=4,
    )
    assert mailnet.hostile.dns_queries("rebind.test", "A") == 1  # one lookup for the check
    dialled = await counted(mailnet, REBIND_IP)
    assert dialled >= 3  # every probe (and look-ahead) went to the address that was checked
    assert {r.ip for r in report.user_results.values()} == {REBIND_IP}
    assert await canary(mailnet) == 0
    assert "policy.internal_address" not in codes(report)

    # A later check asks again, gets 127.0.0.1, and is refused before connecting.
    report = await run_check(
        "taro@rebind.test", smtp="rebind.test:587/none", receive=False, settings=settings(mailnet)
    )
    assert mailnet.hostile.dns_queries("rebind.test", "A") == 2
    probe = report.user_results[Protocol.SMTP]
    assert probe.failure is Failure.POLICY_INTERNAL and probe.detail == CANARY_IP
    assert await canary(mailnet) == 0
    assert await counted(mailnet, REBIND_IP) == dialled


async def test_the_transport_dials_addresses_never_names(mailnet: MailNet) -> None:
    # Nothing below the policy check may resolve a name again: a name is not even accepted.
    with pytest.raises(ValueError):
        await open_tcp(["localhost"], 587, (), 2.0)
    with pytest.raises(ValueError):
        await open_tcp(["rebind.test"], 587, settings(mailnet).allow_networks, 2.0)
    assert await canary(mailnet) == 0
    assert (
        await counted(
            mailnet,
        )
        == 0
    )


# -- only mail ports ---------------------------------------------------------------------------


@pytest.mark.parametrize("port", [6379, 3306, 80, 443, 8080])
async def test_ports_that_are_not_mail_ports_are_refused(mailnet: MailNet, port: int) -> None:
    # mail.portscan.test listens on these ports; the probe must not even connect.
    report = await send_check(mailnet, f"mail.portscan.test:{port}", address="taro@portscan.test")
    probe = report.user_results[Protocol.SMTP]
    assert probe.failure is Failure.POLICY_PORT
    assert [s.name for s in probe.stages] == ["dns", "connect"]
    assert "policy.port_not_allowed" in codes(report)
    assert await counted(mailnet, PORTSCAN_IP) == 0


async def test_autoconfig_cannot_point_probes_or_redirects_at_other_ports(
    mailnet: MailNet,
) -> None:
    # autoconfig.portscan.test lists servers on 22, 80, 443, 3306, 6379, 8080 and 11211, and
    # portscan.test/.well-known redirects to http://mail.portscan.test:6379/.
    report = await run_check("taro@portscan.test", settings=settings(mailnet), timeout=4)
    listed = {
        r.endpoint.port: r
        for r in report.results
        if r.endpoint.host == "mail.portscan.test" and r.endpoint.port not in MAIL_PORTS
    }
    assert set(listed) == {22, 80, 443, 3306, 6379, 8080, 11211}
    assert all(r.failure is Failure.POLICY_PORT for r in listed.values())
    assert await counted(mailnet, FANWEB_IP, (80,)) >= 2  # both files were fetched
    assert await counted(mailnet, PORTSCAN_IP) == 0


# -- one check touches a bounded number of hosts and connections -------------------------------


async def test_a_check_that_fans_out_touches_a_bounded_number_of_hosts(mailnet: MailNet) -> None:
    # fanout.test's autoconfig file names 120 servers on 60 hosts, and its SRV records 20 more.
    started = time.monotonic()
    report = await run_check("taro@fanout.test", settings=settings(mailnet), timeout=6)
    assert time.monotonic() - started < 6 + 1
    await asyncio.sleep(SETTLE)
    touched = mailnet.hostile.touched()
    fan = {fan_ip(n) for n in range(1, FANOUT_HOSTS + 1)}
    addresses = {ip for ip, _ in touched}
    assert addresses <= fan | {FANWEB_IP}
    assert len(addresses) <= MAX_ADDRESSES_PER_CHECK
    assert sum(touched.values()) <= MAX_CONNECTIONS_PER_CHECK
    # The bound, not the lack of candidates, is what stopped it; and it is said.
    assert any(r.failure is Failure.POLICY_LIMIT for r in report.results)
    assert "policy.connection_limit" in codes(report)
    assert len(addresses) == MAX_ADDRESSES_PER_CHECK


async def test_the_connection_budget_refuses_beyond_its_limits(mailnet: MailNet) -> None:
    allow = settings(mailnet).allow_networks
    budget = ConnectionBudget(max_connections=2)
    for _ in range(2):
        conn = await open_tcp([REBIND_IP], 587, allow, 2.0, budget=budget)
        await conn.close()
    with pytest.raises(PolicyRefused) as refused:
        await open_tcp([REBIND_IP], 587, allow, 2.0, budget=budget)
    assert refused.value.reason == "connection_limit"
    assert await counted(mailnet, REBIND_IP, (587,)) == 2

    budget = ConnectionBudget(max_addresses=1)
    conn = await open_tcp([fan_ip(1)], 143, allow, 2.0, budget=budget)
    await conn.close()
    conn = await open_tcp([fan_ip(1)], 587, allow, 2.0, budget=budget)  # the same address
    await conn.close()
    with pytest.raises(PolicyRefused):
        await open_tcp([fan_ip(2)], 587, allow, 2.0, budget=budget)
    assert await counted(mailnet, fan_ip(2)) == 0
    # One connect tries at most four addresses of a name, however many DNS returns.
    budget = ConnectionBudget()
    with pytest.raises(ConnectFailed):  # nothing listens on port 25 there: all refused
        await open_tcp([fan_ip(n) for n in range(1, 11)], 25, allow, 2.0, budget=budget)
    assert budget.connections == ADDRESSES_PER_CONNECT == 4
