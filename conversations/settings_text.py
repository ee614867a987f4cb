"""Turning the settings a person typed into a SPEC the diagnosis engine understands."""

from __future__ import annotations

from conversations.state import State
from conversations.understanding.entities import Entities


def _protocol_for(state: State, entities: Entities) -> str:
    if entities.protocol in ("smtp", "imap", "pop3"):
        if entities.protocol == "imap" and entities.port in (110, 995):
            return "pop3"
        return entities.protocol
    if entities.port in (25, 465, 587, 2525):
        return "smtp"
    if entities.port in (110, 995):
        return "pop3"
    if entities.port in (143, 993):
        return "imap"
    pending = [p for p in state.protocols() if p not in state.settings]
    return pending[0] if pending else state.protocols()[0]


def merge_setting(state: State, entities: Entities) -> None:
    """Add what was said to the protocol's SPEC; a later message may complete an earlier one."""
    protocol = _protocol_for(state, entities)
    host, port, security = _split(state.settings.get(protocol, ""))
    host = entities.host or host or (entities.domain if entities.domain and entities.port else "")
    port = str(entities.port) if entities.port else port
    security = entities.security or security
    if not host:
        return  # a port or a security word alone is not a setting yet
    spec = host + (f":{port}" if port else "") + (f"/{security}" if security else "")
    if protocol == "pop3":
        state.settings.pop("imap", None)  # they receive with POP3, not IMAP
    state.settings[protocol] = spec


def _split(spec: str) -> tuple[str, str, str]:
    if not spec:
        return "", "", ""
    rest, _, security = spec.partition("/")
    host, _, port = rest.partition(":")
    return host, port, security
