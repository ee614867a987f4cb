"""Which addresses and ports a probe may touch.

A bot in a shared channel connects wherever a stranger points it, so internal networks are off
limits unless the admin lists them, and only mail ports are ever dialled.
"""

from __future__ import annotations

import ipaddress

from bot.config import IPNetwork
from bot.model import MAIL_PORTS

# Web ports are allowed only for fetching autoconfig files.
HTTP_PORTS: frozenset[int] = frozenset({80, 443})


class PolicyRefused(Exception):
    """The target is not one a probe may connect to; `reason` is a stable word."""

    def __init__(self, reason: str, target: str) -> None:
        super().__init__(f"{reason}: {target}")
        self.reason = reason  # "internal_address" | "port_not_allowed"
        self.target = target


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE)
    )


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def check_address(ip: str, allow: tuple[IPNetwork, ...]) -> None:
    """Raise PolicyRefused when `ip` is internal and no allowed network contains it."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if not is_internal(address):
        return
    # ::ffff:10.0.0.1 is 10.0.0.1: an allowed IPv4 network covers its mapped form too.
    forms = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        forms.append(address.ipv4_mapped)
    if any(a.version == net.version and a in net for a in forms for net in allow):
        return
    raise PolicyRefused("internal_address", ip)


def check_port(port: int, *, http: bool = False) -> None:
    """Mail probes dial mail ports; autoconfig fetches dial web ports; nothing else."""
    if port in (HTTP_PORTS if http else MAIL_PORTS):
        return
    raise PolicyRefused("port_not_allowed", str(port))
