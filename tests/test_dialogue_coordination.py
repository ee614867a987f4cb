"""Replicas sharing one store: a conversation's turns one at a time, a check whose replica died
run again, and the probe budget answering "wait N seconds" instead of probing without end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from storage_conformance import FakeClock

from bot.budget import Budget, Limits
from bot.storage import SQLiteStore
from conversations.dialogue import Dialogue
from conversations.events import ConversationKey, Inbound, Outbound
from conversations.state import SCHEMA, State


def _key(user: str, thread: str = "t") -> ConversationKey:
    return ConversationKey("test", "ws", "c", thread, user)


class Person:
    """One person's conversation; replies are kept in the order they were sent."""

    def __init__(self, dialogue: Dialogue, key: ConversationKey) -> None:
        self.dialogue, self.key = dialogue, key
        self.out: list[Outbound] = []
        self._n = 0

    async def _send(self, message: Outbound) -> None:
        self.out.append(message)

    async def say(self, text: str = "", value: str | None = None) -> list[Outbound]:
        self._n += 1
        start = len(self.out)
        event = Inbound(self.key, text=text or None, value=value, event_id=f"{id(self)}#{self._n}")
        await self.dialogue.handle(event, self._send)
        return self.out[start:]

    async def state(self) -> State:
        record = await self.dialogue.store.load(str(self.key))
        assert record is not None
        return State.from_dict(record.state)


async def _ready_to_check(store: SQLiteStore, key: ConversationKey, **extra: object) -> None:
    """A conversation whose next answer (the app) starts a check of good.test's sending."""
    state = State(
        lang="en",
        step="ask_client",
        symptom="send",
        connectivity=True,
        address="alice@good.test",
        domain="good.test",
        settings={"smtp": "mail.good.test 587 STARTTLS"},
    )
    for name, value in extra.items():
        setattr(state, name, value)
    await store.save(str(key), state.to_dict(), SCHEMA, 0)


def _texts(replies: list[Outbound]) -> str:
    return "\n".join(r.text for r in replies)


@pytest.fixture
async def store(tmp_path: Path):
    clock = FakeClock()
    opened = SQLiteStore(tmp_path / "s.db", clock=clock)
    opened.clock = clock  # type: ignore[attr-defined]
    yield opened
    await opened.close()


async def test_over_the_per_person_limit_the_bot_says_how_long_to_wait(store, mail_env) -> None:
    budget = Budget(store, Limits(per_user=1), slot_ttl=60)
    dialogue = Dialogue(store, budget=budget)
    first, second = Person(dialogue, _key("u1", "a")), Person(dialogue, _key("u1", "b"))
    for person in (first, second):
        await _ready_to_check(store, person.key)

    replies = await first.say("Thunderbird")
    assert any(r.kind == "diagnosis" for r in replies)

    store.clock.advance(20)
    replies = await second.say("Thunderbird")
    assert not any(r.kind == "diagnosis" for r in replies)
    refusal = replies[-1]
    assert "Wait about 40 seconds" in refusal.text
    assert [c.value for c in refusal.choices] == ["recheck"]
    state = await second.state()
    assert (state.step, state.check_refused) == ("diagnosing", True)

    store.clock.advance(41)
    replies = await second.say(value="recheck")
    assert any(r.kind == "diagnosis" for r in replies)
    assert (await second.state()).step == "ask_resolved"


async def test_the_workspace_limit_counts_everyone_in_it(store, mail_env) -> None:
    budget = Budget(store, Limits(per_user=5, per_workspace=2), slot_ttl=60)
    dialogue = Dialogue(store, budget=budget)
    people = [Person(dialogue, _key(f"u{n}", f"t{n}")) for n in range(3)]
    for person in people:
        await _ready_to_check(store, person.key)
    outcomes = [await person.say("Thunderbird") for person in people]
    assert [any(r.kind == "diagnosis" for r in o) for o in outcomes] == [True, True, False]
    assert "Wait about 60 seconds" in outcomes[2][-1].text


async def test_a_refused_check_does_not_use_up_the_allowance(store, mail_env) -> None:
    budget = Budget(store, Limits(per_user=1, per_workspace=1), slot_ttl=60)
    dialogue = Dialogue(store, budget=budget)
    first, other = Person(dialogue, _key("u1", "a")), Person(dialogue, _key("u2", "b"))
    for person in (first, other):
        await _ready_to_check(store, person.key)
    await first.say("Thunderbird")
    refused = await other.say("Thunderbird")  # the workspace is full
    assert "Wait about" in refused[-1].text
    store.clock.advance(61)
    # u2's refused attempt was not counted against u2: the retry goes through.
    replies = await other.say("check again")
    assert any(r.kind == "diagnosis" for r in replies)


async def test_checks_beyond_the_concurrency_limit_queue_and_then_run(store, mail_env) -> None:
    budget = Budget(store, Limits(concurrent=1, per_user=5), slot_ttl=60, poll=0.05)
    dialogue = Dialogue(store, budget=budget)
    people = [Person(dialogue, _key(f"u{n}", f"t{n}")) for n in range(2)]
    for person in people:
        await _ready_to_check(store, person.key)
    outcomes = await asyncio.gather(*(person.say("Thunderbird") for person in people))
    assert all(any(r.kind == "diagnosis" for r in o) for o in outcomes)
    queued = [o for o in outcomes if "as soon as it is my turn" in _texts(o)]
    assert len(queued) == 1  # exactly one had to wait, and was told so


async def test_a_check_whose_replica_died_runs_again_on_the_next_message(store, mail_env) -> None:
    dialogue = Dialogue(store)
    person = Person(dialogue, _key("u1"))
    # The replica that started this check died holding its lease (5 s here)…
    await _ready_to_check(store, person.key, step="diagnosing", app="thunderbird")
    lease = await store.acquire_lock(f"check:{person.key}", 5)
    assert lease
    replies = await person.say("hello?")
    assert "Checking the mail servers of good.test" in _texts(replies)  # still its lease
    assert not any(r.kind == "diagnosis" for r in replies)

    store.clock.advance(6)  # …and the lease lapsed
    replies = await person.say("hello?")
    assert "The last check was interrupted" in _texts(replies)
    assert any(r.kind == "diagnosis" for r in replies)
    assert (await person.state()).step == "ask_resolved"


async def test_a_turn_waits_for_the_conversation_lock(store, mail_env) -> None:
    # Another replica is in the middle of a turn of this conversation.
    person = Person(Dialogue(store), _key("u1"))
    held = await store.acquire_lock(f"conv:{person.key}", 30)
    assert held
    turn = asyncio.ensure_future(person.say("I can't send mail"))
    await asyncio.sleep(0.3)
    assert not turn.done() and person.out == []
    await store.release_lock(f"conv:{person.key}", held)
    replies = await asyncio.wait_for(turn, 5)
    assert replies and replies[-1].step == "ask_connectivity"


async def test_turns_on_two_replicas_are_taken_one_at_a_time(tmp_path: Path) -> None:
    stores = [SQLiteStore(tmp_path / "s.db") for _ in range(2)]
    key = _key("u1")
    people = [Person(Dialogue(s), key) for s in stores]
    await asyncio.gather(people[0].say("I can't send mail"), people[1].say("yes"))
    record = await stores[0].load(str(key))
    assert record is not None
    # Both messages were taken in turn, each on the state the other left (no retry lost one).
    assert record.version == 2
    assert len(State.from_dict(record.state).history) == 2
    for s in stores:
        await s.close()


def _slow(store: SQLiteStore, key: ConversationKey) -> Any:
    """A conversation whose check waits out a silently dropped port (the whole deadline)."""
    return _ready_to_check(
        store,
        key,
        address="taro@firewalled.test",
        domain="firewalled.test",
        settings={"smtp": "mail.firewalled.test 587 STARTTLS"},
    )


async def test_the_sweeper_never_takes_a_running_check_for_a_dead_one(
    store, mail_env, monkeypatch
) -> None:
    monkeypatch.setenv("MAIL_DOCTOR_CHECK_TIMEOUT", "2")
    # A lease much shorter than the check: only its renewal keeps it.
    dialogue = Dialogue(store, check_lease=0.6)
    person = Person(dialogue, _key("u1"))
    await _slow(store, person.key)
    turn = asyncio.ensure_future(person.say("Thunderbird"))
    swept: list[Outbound] = []

    async def collect(message: Outbound) -> None:
        swept.append(message)

    for _round in range(6):  # sweeps during the whole check, before and after the lease's ttl
        await asyncio.sleep(0.3)
        assert await dialogue.resume_stalled(lambda key: collect) == 0
    await asyncio.wait_for(turn, 10)
    assert swept == []
    assert "interrupted" not in _texts(person.out)
    assert sum(r.kind == "diagnosis" for r in person.out) == 1


async def test_a_check_queued_for_a_slot_keeps_its_lease(store, mail_env, monkeypatch) -> None:
    monkeypatch.setenv("MAIL_DOCTOR_CHECK_TIMEOUT", "2")
    budget = Budget(store, Limits(concurrent=1, per_user=5), slot_ttl=30, poll=0.05)
    dialogue = Dialogue(store, budget=budget, check_lease=0.6)
    first, second = Person(dialogue, _key("u1", "a")), Person(dialogue, _key("u2", "b"))
    await _slow(store, first.key)
    await _ready_to_check(store, second.key)
    running = asyncio.ensure_future(first.say("Thunderbird"))
    await asyncio.sleep(0.2)
    queued = asyncio.ensure_future(second.say("Thunderbird"))  # waits ~2 s for the slot
    swept: list[Outbound] = []

    async def collect(message: Outbound) -> None:
        swept.append(message)

    for _round in range(6):
        await asyncio.sleep(0.3)
        assert await dialogue.resume_stalled(lambda key: collect) == 0  # nothing looks dead
        assert await store.acquire_lock(f"check:{second.key}", 1) is None  # still leased
    await asyncio.wait_for(asyncio.gather(running, queued), 15)
    assert swept == []
    assert "as soon as it is my turn" in _texts(second.out)
    assert sum(r.kind == "diagnosis" for r in second.out) == 1
