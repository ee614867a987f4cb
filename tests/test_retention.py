"""What is kept, for how long: conversations end (idle, or past the retention) and leave case
summaries without anything people wrote; `mail-doctor forget` deletes everything about a person."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from storage_conformance import FakeClock

from bot.cli import main
from bot.storage import SQLiteStore
from conversations.dialogue import Dialogue
from conversations.events import ConversationKey, Inbound, Outbound
from conversations.retention import (
    DAY,
    HOUR,
    Retention,
    RetentionError,
    end_conversations,
)
from conversations.state import SCHEMA, State

DM = ConversationKey("slack", "T1", "D1", "-", "U1")
THREAD = ConversationKey("slack", "T1", "C1", "1700000000.000100", "-")
OTHER = ConversationKey("slack", "T1", "D2", "-", "U2")
TYPED = ("メールが送れない", "taro.yamada@example.jp", "Sup3rSecretPw")


async def _say(dialogue: Dialogue, key: ConversationKey, text: str, sender: str = "") -> list[str]:
    out: list[Outbound] = []

    async def send(message: Outbound) -> None:
        out.append(message)

    event = Inbound(key, text=text, locale="ja", sender=sender or None)
    await dialogue.handle(event, send)
    return [o.text for o in out]


async def _a_conversation(dialogue: Dialogue, key: ConversationKey, sender: str = "") -> None:
    await _say(dialogue, key, "メールが送れない", sender)
    await _say(dialogue, key, "はい", sender)
    await _say(dialogue, key, "taro.yamada@example.jp password: Sup3rSecretPw", sender)


async def _after_a_dm(db: Path, clock: FakeClock) -> tuple[SQLiteStore, Dialogue]:
    """A store that keeps records a year, so that only the retention policy (the defaults)
    ends conversations, a dialogue on it, and U1's conversation in a DM."""
    store = SQLiteStore(db, clock=clock, idle_ttl=365 * DAY)
    dialogue = Dialogue(store, retention=Retention(), clock=clock)
    await _a_conversation(dialogue, DM)
    return store, dialogue


def _raw(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time() - 3 * DAY)


async def test_an_idle_conversation_ends_and_leaves_a_summary_without_text(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "s.db"
    store, dialogue = await _after_a_dm(db, clock)
    first = await store.load(str(DM))
    assert first is not None
    clock.now = time.time()  # three days later, the person writes again: a new case
    replies = await _say(dialogue, DM, "こんにちは")
    second = await store.load(str(DM))
    assert second is not None and second.state["case_id"] != first.state["case_id"]
    assert second.state["history"] == ["こんにちは"]
    summary = await store.load("case:" + first.state["case_id"])
    assert summary is not None
    assert summary.state["conversation"] == str(DM)
    assert summary.state["domain"] == "example.jp" and summary.state["people"] == ["U1"]
    assert replies
    await store.close()
    # Nothing the person wrote is left in the file, only the new case's greeting.
    raw = _raw(db)
    for typed in TYPED:
        assert typed.encode() not in raw, typed


async def test_the_sweep_ends_idle_and_too_old_conversations(
    tmp_path: Path, clock: FakeClock
) -> None:
    store, dialogue = await _after_a_dm(tmp_path / "s.db", clock)  # three days ago, then silence
    # A conversation that began 40 days ago and is still going an hour ago.
    clock.now = time.time() - HOUR
    old = State(created_at=time.time() - 40 * DAY, domain="example.jp", history=["まだです"])
    await store.save(str(OTHER), old.to_dict(), SCHEMA, 0)
    clock.now = time.time()
    await _say(dialogue, THREAD, "メールが届かない", sender="U3")  # just now
    ended = await end_conversations(store, Retention(), now=time.time())
    assert ended == 2
    left = [r.key for r in await store.list_records()]
    assert str(THREAD) in left and str(DM) not in left and str(OTHER) not in left
    assert sum(key.startswith("case:") for key in left) == 2, left
    await store.close()


async def test_ended_cases_are_listed_and_counted(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    db = tmp_path / "s.db"
    store, _ = await _after_a_dm(db, clock)
    record = await store.load(str(DM))
    assert record is not None
    assert await end_conversations(store, Retention(), now=time.time()) == 1
    await store.close()
    monkeypatch.setenv("MAIL_DOCTOR_STORE", f"sqlite:///{db}")
    assert await asyncio.to_thread(main, ["cases", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["case_id"] for r in rows] == [record.state["case_id"]]
    assert rows[0]["platform"] == "slack" and rows[0]["domain"] == "example.jp"


async def test_forget_deletes_everything_about_one_person(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    db = tmp_path / "s.db"
    store, dialogue = await _after_a_dm(db, clock)  # U1's DM, ended below into a summary
    await end_conversations(store, Retention(), now=time.time())
    clock.now = time.time()
    await _say(dialogue, THREAD, "メールが送れない", sender="U3")
    await _say(dialogue, THREAD, "はい", sender="U1")  # U1 wrote in a channel thread too
    await _a_conversation(dialogue, OTHER)  # someone else
    await store.close()

    monkeypatch.setenv("MAIL_DOCTOR_STORE", f"sqlite:///{db}")
    assert await asyncio.to_thread(main, ["forget", "--user", "slack:U1", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts == {"user": "slack:U1", "conversations": 1, "summaries": 1}
    with sqlite3.connect(db) as conn:
        keys = {k for (k,) in conn.execute("SELECT key FROM records")}
    assert keys == {str(OTHER)}
    assert await asyncio.to_thread(main, ["forget", "--user", "slack:U1", "--lang", "en"]) == 0
    assert "Deleted 0 conversation(s) and 0 case summary(ies)" in capsys.readouterr().out


@pytest.mark.parametrize("user", ["U1", "slack:", "irc:U1", "slack:U1:x"])
def test_forget_needs_platform_and_id(user: str, capsys) -> None:
    assert main(["forget", "--user", user, "--lang", "en"]) == 2
    assert "PLATFORM:ID" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"MAIL_DOCTOR_RETENTION_DAYS": "soon"}, "MAIL_DOCTOR_RETENTION_DAYS"),
        ({"MAIL_DOCTOR_IDLE_HOURS": "0"}, "MAIL_DOCTOR_IDLE_HOURS"),
        ({"MAIL_DOCTOR_CASE_RETENTION_DAYS": "7"}, "MAIL_DOCTOR_CASE_RETENTION_DAYS"),
    ],
)
def test_retention_settings_are_checked(env: dict[str, str], name: str) -> None:
    with pytest.raises(RetentionError, match=name):
        Retention.from_env(env)


def test_retention_defaults() -> None:
    assert Retention.from_env({}) == Retention(24 * HOUR, 30 * DAY, 365 * DAY)
