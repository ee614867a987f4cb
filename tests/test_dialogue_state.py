"""Stored conversations: old schemas restart politely, stale writes are retried, nothing leaks."""

from __future__ import annotations

from pathlib import Path

from bot.storage import SQLiteStore
from conversations.dialogue import Dialogue
from conversations.events import ConversationKey, Inbound, Outbound
from conversations.state import SCHEMA, State

KEY = ConversationKey("test", "ws", "c", "t", "u")


async def _turn(dialogue: Dialogue, text: str, event_id: str) -> list[Outbound]:
    out: list[Outbound] = []

    async def send(message: Outbound) -> None:
        out.append(message)

    await dialogue.handle(Inbound(KEY, text=text, event_id=event_id, locale="en"), send)
    return out


async def test_a_state_from_an_older_schema_restarts_politely(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.save(str(KEY), {"step": "ask_gizmo", "weird": True}, SCHEMA - 1, 0)
    out = await _turn(Dialogue(store), "hello", "e1")
    assert "updated" in out[0].text  # "mail-doctor has been updated since we last talked…"
    record = await store.load(str(KEY))
    assert record is not None and record.schema == SCHEMA
    assert State.from_dict(record.state).step == "ask_symptom"
    await store.close()


async def test_a_state_that_no_longer_fits_restarts_instead_of_crashing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.save(str(KEY), {"step": "nowhere", "lang": "en"}, SCHEMA, 0)
    out = await _turn(Dialogue(store), "I can't send mail", "e1")
    assert out[-1].step == "ask_connectivity"
    await store.close()


async def test_a_pasted_password_is_never_stored(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await _turn(Dialogue(store), "my password: Sup3rSecret! and I can't send", "e1")
    raw = (tmp_path / "s.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("s.db-*")
    )
    assert b"Sup3rSecret" not in raw
    await store.close()


async def test_two_messages_at_once_are_both_handled_once(tmp_path: Path) -> None:
    import asyncio

    store_a, store_b = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    first, second = await asyncio.gather(
        _turn(Dialogue(store_a), "I can't send mail", "e1"),
        _turn(Dialogue(store_b), "I can't send mail", "e2"),
    )
    assert first and second  # each message got its answer; neither write was lost
    record = await store_a.load(str(KEY))
    assert record is not None and record.version == 2
    await store_a.close()
    await store_b.close()


async def test_a_long_check_does_not_hold_up_other_conversations(
    tmp_path: Path, mail_env, monkeypatch
) -> None:
    import asyncio
    import time

    monkeypatch.setenv("MAIL_DOCTOR_CHECK_TIMEOUT", "3")
    store = SQLiteStore(tmp_path / "s.db")
    dialogue = Dialogue(store)
    slow = ConversationKey("test", "ws", "c", "slow", "u1")
    quick = ConversationKey("test", "ws", "c", "quick", "u2")
    answered: dict[str, float] = {}
    started = time.monotonic()

    async def run(key: ConversationKey, lines: list[str]) -> None:
        async def send(message: Outbound) -> None:
            answered[str(key)] = time.monotonic() - started

        for line in lines:
            event_id = f"{key}-{line}"
            await dialogue.handle(Inbound(key, text=line, event_id=event_id, locale="en"), send)

    setup = ["can't send", "yes", "taro@firewalled.test", "Thunderbird"]
    await run(slow, setup)
    started = time.monotonic()
    await asyncio.gather(
        run(slow, ["mail.firewalled.test 587 starttls"]),  # a dropped port: the whole deadline
        run(quick, ["I can't receive mail"]),
    )
    assert answered[str(quick)] < 1.0
    assert answered[str(slow)] >= 2.5
    await store.close()
