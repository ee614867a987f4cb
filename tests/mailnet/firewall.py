"""nftables rules inside the test namespace: silently dropped ports (what a firewall does)."""

from __future__ import annotations

import subprocess

from . import layout
from .procs import StartupError

TABLE = "mailnet"


def ruleset() -> str:
    ports = ", ".join(str(p) for p in layout.DROPPED_PORTS)
    return f"""\
table inet {TABLE} {{
  chain input {{
    type filter hook input priority 0; policy accept;
    ip daddr {layout.FIREWALLED_IP} tcp dport {{ {ports} }} drop
  }}
}}
"""


def install() -> None:
    proc = subprocess.run(
        ["nft", "-f", "-"], input=ruleset(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise StartupError(f"nft failed ({proc.returncode}): {proc.stderr.strip()}")


def remove() -> None:
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True, check=False)
