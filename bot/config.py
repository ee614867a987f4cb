"""Runtime settings, read once from the environment (documented in the README)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"


class ConfigError(ValueError):
    """A setting in the environment cannot be used; the message names it."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    dns_servers: tuple[str, ...] = ()  # empty: the system resolver
    ca_file: str | None = None
    allow_networks: tuple[IPNetwork, ...] = ()
    ispdb_url: str = DEFAULT_ISPDB_URL
    timeout: float = 10.0  # the whole check's deadline, in seconds

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        dns = tuple(
            s.strip() for s in env.get("MAIL_DOCTOR_DNS_SERVERS", "").split(",") if s.strip()
        )
        for server in dns:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise ConfigError(
                    f"MAIL_DOCTOR_DNS_SERVERS: {server!r} is not an IP address"
                ) from None
        ca_file = env.get("MAIL_DOCTOR_CA_FILE") or None
        if ca_file and not os.path.isfile(ca_file):
            raise ConfigError(f"MAIL_DOCTOR_CA_FILE: no such file: {ca_file}")
        timeout_text = env.get("MAIL_DOCTOR_CHECK_TIMEOUT", "10")
        try:
            timeout = float(timeout_text)
        except ValueError:
            timeout = -1.0
        if not 1 <= timeout <= 120:
            raise ConfigError(
                f"MAIL_DOCTOR_CHECK_TIMEOUT: {timeout_text!r} is not a number of seconds"
                " from 1 to 120"
            )
        return cls(
            timeout=timeout,
            dns_servers=dns,
            ca_file=ca_file,
            allow_networks=parse_networks(env.get("MAIL_DOCTOR_ALLOW_NETWORKS", "")),
            ispdb_url=env.get("MAIL_DOCTOR_ISPDB_URL") or DEFAULT_ISPDB_URL,
        )


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"MAIL_DOCTOR_ALLOW_NETWORKS: {part!r} is not a CIDR network"
            ) from None
    return tuple(networks)
