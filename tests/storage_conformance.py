"""Conformance tests every ConversationStore backend must pass.

Subclass `StoreConformance` in a `Test…` class, implement `make_store`, and set the flags that
describe the backend; pytest then runs every test below against it. Time is a `FakeClock`, so
expiry is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.storage import Clock, ConversationStore, Record, StaleWrite, StoreUnavailable

IDLE_TTL = 100.0  # the idle_ttl conformance stores are made with
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StoreConformance(ABC):
    persistent: ClassVar[bool] = True  # data survives close() and a new make_store()
    shared: ClassVar[bool] = True  # two make_store() calls in one test reach the same data

    @abstractmethod
    async def make_store(self, clock: Clock, *, idle_ttl: float = IDLE_TTL) -> ConversationStore:
        """A new store object; within one test, shared backends reach the same fresh data."""

    def store_url(self) -> str | None:
        """An `open_store` URL other processes can use to reach this test's data, or None
        to skip the cross-process tests."""
        return None

    # -- helpers

    @pytest.fixture(autouse=True)
    async def _close_stores(self) -> AsyncIterator[None]:
        self._stores: list[ConversationStore] = []
        yield
        for store in self._stores:
            await store.close()

    async def open(
        self, clock: Clock | None = None, idle_ttl: float = IDLE_TTL
    ) -> ConversationStore:
        store = await self.make_store(clock or FakeClock(), idle_ttl=idle_ttl)
        self._stores.append(store)
        return store

    # -- records

    async def test_round_trip_with_unicode(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        key = "line:bot:グループ:-:ユーザー🙂"
        state = {
            "step": "ask_address",
            "address": "山田@例え.jp",
            "notes": ["émoji 📧", "tab\tnewline\n", ""],
            "nested": {"n": 3, "f": 0.5, "t": True, "none": None},
        }
        saved = await store.save(key, state, 7, 0)
        assert saved == Record(key, state, 7, 1, clock.now)
        assert await store.load(key) == saved
        assert await store.load("line:bot:グループ:-:someone-else") is None

    async def test_versions_increment_and_schema_is_kept(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        for version in range(1, 5):
            clock.advance(1)
            record = await store.save("k", {"n": version}, version * 10, version - 1)
            assert (record.version, record.schema, record.updated_at) == (
                version,
                version * 10,
                clock.now,
            )
        assert await store.load("k") == Record("k", {"n": 4}, 40, 4, clock.now)

    async def test_create_when_it_exists_is_stale(self) -> None:
        store = await self.open()
        await store.save("k", {"who": "first"}, 1, 0)
        with pytest.raises(StaleWrite):
            await store.save("k", {"who": "second"}, 1, 0)
        loaded = await store.load("k")
        assert loaded is not None and loaded.state == {"who": "first"}

    async def test_replacing_a_stale_or_absent_version_is_stale(self) -> None:
        store = await self.open()
        with pytest.raises(StaleWrite):
            await store.save("absent", {}, 1, 1)
        assert await store.load("absent") is None
        await store.save("k", {"v": 1}, 1, 0)
        await store.save("k", {"v": 2}, 1, 1)
        for wrong in (1, 3):
            with pytest.raises(StaleWrite):
                await store.save("k", {"v": "lost"}, 1, wrong)
        loaded = await store.load("k")
        assert loaded is not None and (loaded.version, loaded.state) == (2, {"v": 2})

    async def test_state_is_stored_as_json(self) -> None:
        store = await self.open()
        state: dict[str, Any] = {"list": (1, 2), "inner": {"x": [1]}}
        saved = await store.save("k", state, 1, 0)
        state["inner"]["x"].append(2)  # the caller's later edits do not reach the store
        assert saved.state == {"list": [1, 2], "inner": {"x": [1]}}
        loaded = await store.load("k")
        assert loaded == saved
        assert loaded is not None
        loaded.state["list"].append(3)
        assert await store.load("k") == saved

    async def test_bad_arguments_are_refused_and_change_nothing(self) -> None:
        store = await self.open()
        await store.save("k", {"ok": 1}, 1, 0)
        with pytest.raises(TypeError):
            await store.save("k", ["not", "a", "dict"], 1, 1)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.save("k", {"obj": object()}, 1, 1)
        with pytest.raises(ValueError):
            await store.save("k", {"nan": math.nan}, 1, 1)
        with pytest.raises(ValueError):
            await store.save("k", {}, 1, -1)
        with pytest.raises(ValueError):
            await store.claim_event("e", ttl=0)
        loaded = await store.load("k")
        assert loaded is not None and (loaded.version, loaded.state) == (1, {"ok": 1})

    async def test_delete(self) -> None:
        store = await self.open()
        await store.save("k", {}, 1, 0)
        await store.save("k", {}, 1, 1)
        await store.delete("k")
        await store.delete("k")  # deleting an absent key is fine
        assert await store.load("k") is None
        assert (await store.save("k", {"again": True}, 1, 0)).version == 1

    async def test_list_records_by_literal_prefix(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        await store.save("old:1", {}, 1, 0)
        clock.advance(IDLE_TTL / 2 + 1)
        # Wildcards of SQL LIKE and Redis MATCH must be taken literally.
        keys = ["a_b:2", "a_b:1", "axb:1", "A_b:1", "a*:1", "ab:1", "a%:1", "b:1", "a_b"]
        for key in keys:
            await store.save(key, {"key": key}, 1, 0)
        clock.advance(IDLE_TTL / 2)  # "old:1" is now idle-expired, the rest are not
        assert [r.key for r in await store.list_records("a_b")] == ["a_b", "a_b:1", "a_b:2"]
        assert [r.key for r in await store.list_records("a*")] == ["a*:1"]
        assert [r.key for r in await store.list_records("a%")] == ["a%:1"]
        everything = await store.list_records()
        assert [r.key for r in everything] == sorted(keys)
        assert all(r.state == {"key": r.key} for r in everything)
        assert await store.list_records("zzz") == []

    # -- idle expiry

    async def test_idle_record_is_absent_on_load_and_deleted(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        await store.save("k", {}, 1, 0)
        clock.advance(IDLE_TTL)
        assert await store.load("k") is not None  # idle exactly idle_ttl: still alive
        clock.advance(0.5)
        assert await store.load("k") is None
        clock.advance(-10)  # it was deleted, not just hidden
        assert await store.load("k") is None
        assert await store.expire_idle() == 0

    async def test_idle_record_counts_as_absent_for_save(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        await store.save("k", {"old": True}, 1, 0)
        clock.advance(IDLE_TTL + 1)
        with pytest.raises(StaleWrite):
            await store.save("k", {}, 1, 1)
        fresh = await store.save("k", {"new": True}, 2, 0)
        assert (fresh.version, fresh.state) == (1, {"new": True})
        assert await store.load("k") == fresh

    async def test_expire_idle(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        await store.save("a", {}, 1, 0)
        await store.save("b", {}, 1, 0)
        await store.save("c", {}, 1, 0)
        clock.advance(IDLE_TTL / 2)
        await store.save("b", {"touched": True}, 1, 1)
        clock.advance(IDLE_TTL / 2 + 1)
        assert await store.expire_idle() == 2
        assert [r.key for r in await store.list_records()] == ["b"]
        assert await store.expire_idle() == 0

    # -- event claims

    async def test_claim_event_once_within_ttl(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        assert await store.claim_event("evt-1", ttl=60) is True
        assert await store.claim_event("evt-1", ttl=60) is False
        assert await store.claim_event("evt-2", ttl=60) is True
        clock.advance(59)
        assert await store.claim_event("evt-1", ttl=60) is False
        clock.advance(2)
        assert await store.claim_event("evt-1", ttl=60) is True  # the old claim lapsed
        assert await store.claim_event("evt-1", ttl=60) is False
        assert await store.claim_event("イベント🙂") is True
        assert await store.claim_event("イベント🙂") is False

    async def test_concurrent_claims_one_wins(self) -> None:
        stores = [await self.open()]
        if self.shared:
            stores.append(await self.open())
        results = await asyncio.gather(
            *(stores[i % len(stores)].claim_event("evt") for i in range(10))
        )
        assert sorted(results) == [False] * 9 + [True]

    # -- races

    async def test_concurrent_saves_one_wins(self) -> None:
        store = await self.open()
        await self._race([store], "create", 0)
        await store.save("existing", {}, 1, 0)
        await self._race([store], "existing", 1)

    async def test_concurrent_saves_on_two_store_objects_one_wins(self) -> None:
        if not self.shared:
            pytest.skip("store objects do not share data")
        clock = FakeClock()
        first, second = await self.open(clock), await self.open(clock)
        await self._race([first, second], "create", 0)
        await first.save("existing", {}, 1, 0)
        await self._race([first, second], "existing", 1)

    async def _race(self, stores: list[ConversationStore], key: str, expected: int) -> None:
        saves = [stores[i % len(stores)].save(key, {"writer": i}, 1, expected) for i in range(10)]
        results = await asyncio.gather(*saves, return_exceptions=True)
        wins = [r for r in results if isinstance(r, Record)]
        assert len(wins) == 1, results
        assert all(isinstance(r, StaleWrite) for r in results if r is not wins[0])
        for store in stores:
            assert await store.load(key) == wins[0]
            assert wins[0].version == expected + 1

    @pytest.mark.parametrize("expected", [0, 1])
    async def test_concurrent_saves_in_processes_one_wins(self, expected: int) -> None:
        url = self.store_url()
        if url is None:
            pytest.skip("no URL other processes can use")
        store = await self.open(time.time)  # the workers run on real time
        if expected:
            await store.save("k", {"writer": "parent"}, 1, 0)
        outcomes = await asyncio.to_thread(race_in_processes, url, "save", "k", expected)
        winners = [pid for pid, outcome in outcomes.items() if outcome == "won"]
        assert len(winners) == 1, outcomes
        assert set(outcomes.values()) == {"won", "lost"}
        loaded = await store.load("k")
        assert loaded is not None
        assert (loaded.version, loaded.state) == (expected + 1, {"writer": winners[0]})

    async def test_concurrent_claims_in_processes_one_wins(self) -> None:
        url = self.store_url()
        if url is None:
            pytest.skip("no URL other processes can use")
        await self.open(time.time)  # creates the store before the workers race
        outcomes = await asyncio.to_thread(race_in_processes, url, "claim", "evt")
        assert sorted(outcomes.values()) == ["lost"] * (len(outcomes) - 1) + ["won"]

    # -- locks

    async def test_lock_is_held_until_released_by_its_owner(self) -> None:
        store = await self.open()
        token = await store.acquire_lock("conv:a", ttl=30)
        assert token
        assert await store.acquire_lock("conv:a", ttl=30) is None
        assert await store.acquire_lock("conv:b", ttl=30)  # another name is free
        assert await store.release_lock("conv:a", "not-the-token") is False
        assert await store.acquire_lock("conv:a", ttl=30) is None  # still held
        assert await store.release_lock("conv:a", token) is True
        assert await store.release_lock("conv:a", token) is False  # already free
        again = await store.acquire_lock("conv:a", ttl=30)
        assert again and again != token

    async def test_lock_of_a_dead_holder_lapses(self) -> None:
        # Redis lets keys lapse in real time, the others follow the clock: move both.
        clock = FakeClock()
        store = await self.open(clock)
        token = await store.acquire_lock("conv:a", ttl=0.2)
        assert token
        clock.advance(0.1)
        assert await store.acquire_lock("conv:a", ttl=0.2) is None
        clock.advance(1)
        await asyncio.sleep(0.3)
        successor = await store.acquire_lock("conv:a", ttl=30)
        assert successor
        # The late first holder cannot free the lock its successor holds now.
        assert await store.release_lock("conv:a", token) is False
        assert await store.acquire_lock("conv:a", ttl=30) is None

    async def test_a_holder_s_heartbeat_keeps_its_lock(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        token = await store.acquire_lock("conv:a", ttl=0.3)
        assert token
        for _beat in range(3):  # longer in all than the ttl, renewed before each lapse
            clock.advance(0.2)
            await asyncio.sleep(0.2)
            assert await store.extend_lock("conv:a", token, ttl=0.3) is True
        assert await store.acquire_lock("conv:a", ttl=30) is None
        assert await store.extend_lock("conv:a", "not-the-token", ttl=30) is False
        clock.advance(1)
        await asyncio.sleep(0.4)  # the holder stopped beating: the lock lapses
        assert await store.extend_lock("conv:a", token, ttl=30) is False
        assert await store.acquire_lock("conv:a", ttl=30)

    async def test_concurrent_lock_one_wins(self) -> None:
        stores = [await self.open()]
        if self.shared:
            stores.append(await self.open())
        results = await asyncio.gather(
            *(stores[i % len(stores)].acquire_lock("conv", 30) for i in range(10))
        )
        assert sum(1 for r in results if r) == 1

    async def test_concurrent_locks_in_processes_one_wins(self) -> None:
        url = self.store_url()
        if url is None:
            pytest.skip("no URL other processes can use")
        await self.open(time.time)
        outcomes = await asyncio.to_thread(race_in_processes, url, "lock", "conv")
        assert sorted(outcomes.values()) == ["lost"] * (len(outcomes) - 1) + ["won"]

    # -- rate limits and slots

    async def test_rate_limit_counts_uses_in_a_sliding_window(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        assert await store.take_rate([("user:a", 2)], 60) == 0
        clock.advance(10)
        assert await store.take_rate([("user:a", 2)], 60) == 0
        clock.advance(5)
        # Full: room again when the first use is 60 s old, 45 s from now.
        assert await store.take_rate([("user:a", 2)], 60) == pytest.approx(45)
        assert await store.take_rate([("user:b", 2)], 60) == 0  # buckets are separate
        clock.advance(45)
        assert await store.take_rate([("user:a", 2)], 60) == 0
        assert await store.take_rate([("user:a", 2)], 60) == pytest.approx(10)

    async def test_rate_limit_is_all_or_nothing(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        team = ("team:t", 3)
        assert await store.take_rate([("user:a", 5), team], 60) == 0
        assert await store.take_rate([("user:b", 5), team], 60) == 0
        assert await store.take_rate([("user:c", 5), team], 60) == 0
        clock.advance(1)
        # The team is full: user:d's use is not counted either.
        assert await store.take_rate([("user:d", 1), team], 60) == pytest.approx(59)
        clock.advance(59)
        assert await store.take_rate([("user:d", 1), team], 60) == 0
        assert await store.take_rate([("user:d", 1)], 60) == pytest.approx(60)

    async def test_rate_limit_refuses_bad_limits(self) -> None:
        store = await self.open()
        for limits, window in (([("a", 0)], 60.0), ([("a", 1)], 0.0), ([("a", True)], 60.0)):
            with pytest.raises(ValueError):
                await store.take_rate(limits, window)  # type: ignore[arg-type]

    async def test_concurrent_rate_limit_in_processes(self) -> None:
        url = self.store_url()
        if url is None:
            pytest.skip("no URL other processes can use")
        await self.open(time.time)
        outcomes = await asyncio.to_thread(race_in_processes, url, "rate", "team:x", 2)
        assert sorted(outcomes.values()) == ["lost"] * (len(outcomes) - 2) + ["won"] * 2

    async def test_slots_are_limited_given_back_and_lapse(self) -> None:
        clock = FakeClock()
        store = await self.open(clock)
        first = await store.take_slot("checks", 2, 30)
        second = await store.take_slot("checks", 2, 30)
        assert first and second and first != second
        assert await store.take_slot("checks", 2, 30) is None
        await store.release_slot("checks", first)
        await store.release_slot("checks", "unknown")  # fine
        third = await store.take_slot("checks", 2, 30)
        assert third
        assert await store.take_slot("checks", 2, 30) is None
        clock.advance(31)  # neither was given back: they lapse
        assert await store.take_slot("checks", 2, 30)

    async def test_concurrent_slots_in_processes(self) -> None:
        url = self.store_url()
        if url is None:
            pytest.skip("no URL other processes can use")
        await self.open(time.time)
        outcomes = await asyncio.to_thread(race_in_processes, url, "slot", "pool", 3)
        assert sorted(outcomes.values()) == ["lost"] * (len(outcomes) - 3) + ["won"] * 3

    # -- lifecycle

    async def test_ping_close_and_use_after_close(self) -> None:
        store = await self.open()
        assert await store.ping() is True
        await store.close()
        await store.close()  # idempotent
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable):
            await store.load("k")
        with pytest.raises(StoreUnavailable):
            await store.save("k", {}, 1, 0)

    async def test_state_survives_close_and_reopen(self) -> None:
        if not self.persistent:
            pytest.skip("not a persistent store")
        clock = FakeClock()
        store = await self.open(clock)
        saved = await store.save("k", {"kept": "はい"}, 3, 0)
        assert await store.claim_event("evt", ttl=60) is True
        await store.close()
        reopened = await self.open(clock)
        assert await reopened.load("k") == saved
        assert await reopened.claim_event("evt", ttl=60) is False

    async def test_async_context_manager_closes(self) -> None:
        store = await self.open()
        async with store as same:
            assert same is store
        assert await store.ping() is False


# A worker process for the cross-process races: connects, says "ready", waits for a line on
# stdin so all workers start together, then prints "won" or "lost".
_WORKER = """
import asyncio, os, sys
from bot.storage import StaleWrite, open_store

async def main(url, op, name, expected):
    store = open_store(url)
    try:
        assert await store.ping()
        print("ready", flush=True)
        sys.stdin.readline()
        if op == "claim":
            won = await store.claim_event(name)
        elif op == "lock":
            won = await store.acquire_lock(name, 60) is not None
        elif op == "rate":
            won = await store.take_rate([(name, int(expected))], 60) == 0
        elif op == "slot":
            won = await store.take_slot(name, int(expected), 60) is not None
        else:
            try:
                await store.save(name, {"writer": os.getpid()}, 1, int(expected))
                won = True
            except StaleWrite:
                won = False
        print("won" if won else "lost", flush=True)
    finally:
        await store.close()

asyncio.run(main(*sys.argv[1:]))
"""


def race_in_processes(
    url: str, op: str, name: str, expected: int = 0, workers: int = 4
) -> dict[int, str]:
    """Run `workers` processes doing the same save/claim at once; their outcomes by pid."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), *sys.path])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, op, name, str(expected)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
        )
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line == "ready", f"worker did not start: {line!r} {proc.communicate()[1]}"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes: dict[int, str] = {}
        for proc in procs:
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            outcomes[proc.pid] = out.strip()
        return outcomes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
