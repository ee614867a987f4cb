"""Configuration from the environment, and the rule that probes stay off internal networks."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, parse_networks
from bot.netpolicy import PolicyRefused, check_address, check_port


def test_settings_from_environment(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env(
        {
            "MAIL_DOCTOR_DNS_SERVERS": "127.0.0.53, 2001:db8::53",
            "MAIL_DOCTOR_CA_FILE": str(ca),
            "MAIL_DOCTOR_ALLOW_NETWORKS": "10.1.0.0/16,fd00::/8",
            "MAIL_DOCTOR_ISPDB_URL": "http://ispdb.test/v1.1/",
        }
    )
    assert settings.dns_servers == ("127.0.0.53", "2001:db8::53")
    assert settings.ca_file == str(ca)
    assert [str(n) for n in settings.allow_networks] == ["10.1.0.0/16", "fd00::/8"]
    assert settings.ispdb_url == "http://ispdb.test/v1.1/"


@pytest.mark.parametrize(
    ("env", "word"),
    [
        ({"MAIL_DOCTOR_DNS_SERVERS": "dns.example"}, "MAIL_DOCTOR_DNS_SERVERS"),
        ({"MAIL_DOCTOR_ALLOW_NETWORKS": "10.0.0.0/33"}, "MAIL_DOCTOR_ALLOW_NETWORKS"),
        ({"MAIL_DOCTOR_CA_FILE": "/nonexistent/ca.pem"}, "MAIL_DOCTOR_CA_FILE"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused(ip: str) -> None:
    with pytest.raises(PolicyRefused) as caught:
        check_address(ip, ())
    assert caught.value.reason == "internal_address"


def test_public_addresses_pass_and_allowed_networks_open_internal_ones() -> None:
    check_address("8.8.8.8", ())
    check_address("2001:4860:4860::8888", ())
    settings = Settings.from_env({"MAIL_DOCTOR_ALLOW_NETWORKS": "10.1.0.0/16"})
    check_address("10.1.2.3", settings.allow_networks)
    with pytest.raises(PolicyRefused):
        check_address("10.2.0.1", settings.allow_networks)


def test_only_mail_ports_are_dialled() -> None:
    for port in (25, 465, 587, 143, 993, 110, 995):
        check_port(port)
    for port in (22, 80, 443, 3306, 6379):
        with pytest.raises(PolicyRefused):
            check_port(port)
    check_port(443, http=True)


def test_autoconfig_fetches_dial_only_web_ports() -> None:
    check_port(80, http=True)
    with pytest.raises(PolicyRefused):
        check_port(587, http=True)


async def test_unusable_urls_fail_cleanly() -> None:
    from bot.probes.dns import DnsClient
    from bot.probes.http import HttpFailed, http_get
    from bot.probes.transport import Deadline

    for url in ("http://x:abc/", "http://[::1", "ftp://example.jp/", "https:///nohost"):
        with pytest.raises(HttpFailed):
            await http_get(
                url, dns=DnsClient(("127.0.0.53",)), settings=Settings(), deadline=Deadline(1)
            )


def test_an_allowed_ipv4_network_covers_its_ipv4_mapped_form() -> None:
    allow = parse_networks("10.0.0.0/8")
    check_address("::ffff:10.0.0.1", allow)  # allowed, as 10.0.0.1 is
    with pytest.raises(PolicyRefused):
        check_address("::ffff:192.168.0.1", allow)
