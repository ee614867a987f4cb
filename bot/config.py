"""Runtime settings, read once from the environment (documented in the README)."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"


class ConfigError(ValueError):
    """A setting in the environment cannot be used; the message names it."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def env_number(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    what: str,
    low: float = 0.0,
    high: float = math.inf,
    whole: bool = False,
) -> float:
    """The number in `env[name]` (`default` when unset or empty), which must be above `low`
    and at most `high` (and whole when `whole`); ConfigError naming the variable otherwise.
    `what` says in the message what it counts: "hours", "seconds", …"""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low < value <= high) or (whole and value != int(value)):
        kind = "whole number" if whole else "number"
        bounds = f" up to {high:g}" if math.isfinite(high) else ""
        raise ConfigError(f"{name}: {text!r} is not a positive {kind} of {what}{bounds}")
    return value


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
        timeout = env_number(env, "MAIL_DOCTOR_CHECK_TIMEOUT", 10.0, what="seconds", high=120)
        if timeout < 1:
            raise ConfigError("MAIL_DOCTOR_CHECK_TIMEOUT: a check needs at least 1 second")
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
