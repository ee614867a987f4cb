"""The domains an MX host belongs to, for custom domains hosted at a provider or hoster."""

from __future__ import annotations

# Second-level public suffixes common in the places mail-doctor is used; a full public suffix
# list would be a dependency for little gain here: a miss only costs one extra lookup.
_SECOND_LEVEL = frozenset(
    {
        "co.jp", "ne.jp", "or.jp", "ac.jp", "ad.jp", "go.jp", "gr.jp", "ed.jp", "lg.jp",
        "co.uk", "org.uk", "ac.uk", "com.au", "net.au", "co.nz", "com.br", "com.cn",
        "com.tw", "co.kr", "com.sg", "com.hk",
    }
)  # fmt: skip


def base_domain(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    keep = 3 if ".".join(labels[-2:]) in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def mx_domains(mx_host: str, email_domain: str) -> list[str]:
    """Thunderbird's order: the MX host's parent domain, then its base domain."""
    base = base_domain(mx_host)
    if base == base_domain(email_domain):
        return []  # the domain runs its own mail servers: nothing new to learn
    parent = mx_host.split(".", 1)[1] if "." in mx_host else mx_host
    found = [parent] if parent != base and parent.endswith("." + base) else []
    return [*found, base]
