"""Running the diagnosis engine for a conversation (the same engine as `mail-doctor check`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.addresses import InputError, parse_address, parse_spec
from bot.config import Settings
from bot.diagnosis.engine import Check, CheckRequest
from bot.diagnosis.render import to_json
from bot.i18n import t
from bot.model import Protocol
from bot.probes.result import ProbeResult
from conversations.state import State

Progress = Callable[[str], Awaitable[None]]
CheckRunner = Callable[[State, Progress], Awaitable[dict[str, Any] | None]]


def build_request(state: State, timeout: float) -> CheckRequest:
    address = state.address or ""
    if address.startswith("@") or "@" not in address:
        address = f"postmaster@{state.domain}"
    protocols: set[Protocol] = set()
    if state.symptom in ("send", "both", None):
        protocols.add(Protocol.SMTP)
    if state.symptom in ("receive", "both", None):
        protocols |= {Protocol.IMAP, Protocol.POP3}
    user = {}
    for name, spec in state.settings.items():
        if name in ("smtp", "imap", "pop3") and spec:
            try:
                user[Protocol(name)] = parse_spec(spec, Protocol(name))
            except InputError:
                continue  # an unusable setting is diagnosed from discovery alone
    recipient = None
    if state.recipient:
        try:
            recipient = parse_address(state.recipient)
        except InputError:
            recipient = None
    return CheckRequest(
        parse_address(address), frozenset(protocols), user, timeout, recipient=recipient
    )


async def run_check(
    state: State, progress: Progress, observe: Callable[[ProbeResult], None] | None = None
) -> dict[str, Any] | None:
    """The check's JSON in the conversation's language; None when the address is unusable.

    `observe` sees every probe's result as it finishes (the metrics' probe latencies)."""
    settings = Settings.from_env()
    try:
        request = build_request(state, settings.timeout)
    except InputError:
        return None
    updates: list[asyncio.Future[None]] = []

    def on_progress(event: str, data: dict[str, object]) -> None:
        if event == "probe_done":
            result = data["result"]
            assert isinstance(result, ProbeResult)
            if observe is not None:
                observe(result)
            mark = "✓" if result.ok else "✗"
            label = t(f"protocol.{result.endpoint.protocol}", state.lang)
            endpoint = result.endpoint
            text = f"{mark} {label} {endpoint.host}:{endpoint.port}"
            updates.append(asyncio.ensure_future(progress(text)))

    report = await Check(request, settings, on_progress).run()
    await asyncio.gather(*updates, return_exceptions=True)  # a failed edit must not lose the result
    return to_json(report, state.lang)
