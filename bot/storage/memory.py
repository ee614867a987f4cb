"""An in-process store for unit tests and throwaway runs; nothing survives the process.

Every method runs without awaiting anything, so each is atomic on its event loop. States are
kept as JSON text so callers see exactly what a persistent backend would give back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import (
    DEFAULT_EVENT_TTL,
    DEFAULT_IDLE_TTL,
    Clock,
    ConversationStore,
    Record,
    StaleWrite,
    StoreUnavailable,
    check_limits,
    check_save_args,
    check_ttl,
    decode_state,
    encode_state,
    new_token,
)

EVENT_PURGE_INTERVAL = 600.0  # seconds between sweeps of expired event claims


@dataclass(frozen=True)
class _Row:
    text: str
    schema: int
    version: int
    updated_at: float


class MemoryStore(ConversationStore):
    def __init__(self, *, idle_ttl: float = DEFAULT_IDLE_TTL, clock: Clock = time.time) -> None:
        self.idle_ttl = check_ttl("idle_ttl", idle_ttl)
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._events: dict[str, float] = {}  # event id -> expires_at
        self._next_purge = 0.0
        self._closed = False
        self._locks: dict[str, tuple[str, float]] = {}  # name -> (token, expires_at)
        self._uses: dict[str, list[float]] = {}  # rate bucket -> times of uses
        self._slots: dict[str, dict[str, float]] = {}  # pool -> token -> expires_at

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("the in-memory conversation store is closed")

    def _live(self, key: str, now: float) -> _Row | None:
        row = self._rows.get(key)
        if row is not None and row.updated_at < now - self.idle_ttl:
            del self._rows[key]
            return None
        return row

    def _record(self, key: str, now: float) -> Record | None:
        row = self._live(key, now)
        if row is None:
            return None
        state = decode_state(row.text)
        assert state is not None  # written by encode_state
        return Record(key, state, row.schema, row.version, row.updated_at)

    async def load(self, key: str) -> Record | None:
        self._check_open()
        return self._record(key, self._clock())

    async def save(
        self, key: str, state: dict[str, Any], schema: int, expected_version: int
    ) -> Record:
        self._check_open()
        check_save_args(schema, expected_version)
        text = encode_state(state)
        now = self._clock()
        row = self._live(key, now)
        current = 0 if row is None else row.version
        if current != expected_version:
            raise StaleWrite(f"{key!r}: expected version {expected_version}, found {current}")
        self._rows[key] = _Row(text, schema, current + 1, now)
        record = self._record(key, now)
        assert record is not None
        return record

    async def delete(self, key: str) -> None:
        self._check_open()
        self._rows.pop(key, None)

    async def claim_event(self, event_id: str, ttl: float = DEFAULT_EVENT_TTL) -> bool:
        self._check_open()
        ttl = check_ttl("ttl", ttl)
        now = self._clock()
        if now >= self._next_purge:
            self._events = {k: exp for k, exp in self._events.items() if exp > now}
            self._next_purge = now + EVENT_PURGE_INTERVAL
        expires_at = self._events.get(event_id)
        if expires_at is not None and expires_at > now:
            return False
        self._events[event_id] = now + ttl
        return True

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        self._check_open()
        ttl = check_ttl("ttl", ttl)
        now = self._clock()
        held = self._locks.get(name)
        if held is not None and held[1] > now:
            return None
        token = new_token()
        self._locks[name] = (token, now + ttl)
        return token

    async def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        self._check_open()
        ttl = check_ttl("ttl", ttl)
        now = self._clock()
        held = self._locks.get(name)
        if held is None or held[0] != token or held[1] <= now:
            return False
        self._locks[name] = (token, now + ttl)
        return True

    async def release_lock(self, name: str, token: str) -> bool:
        self._check_open()
        held = self._locks.get(name)
        if held is None or held[0] != token or held[1] <= self._clock():
            return False
        del self._locks[name]
        return True

    async def take_rate(self, limits: Sequence[tuple[str, int]], window: float) -> float:
        self._check_open()
        checked = check_limits(limits, window)
        now = self._clock()
        wait = 0.0
        for bucket, limit in checked:
            uses = [t for t in self._uses.get(bucket, []) if t > now - window]
            self._uses[bucket] = uses
            if len(uses) >= limit:
                wait = max(wait, uses[len(uses) - limit] + window - now)
        if wait > 0:
            return wait
        for bucket, _limit in checked:
            self._uses[bucket].append(now)
        return 0.0

    async def take_slot(self, pool: str, limit: int, ttl: float) -> str | None:
        self._check_open()
        check_limits([(pool, limit)], ttl)
        now = self._clock()
        slots = {t: exp for t, exp in self._slots.get(pool, {}).items() if exp > now}
        self._slots[pool] = slots
        if len(slots) >= limit:
            return None
        token = new_token()
        slots[token] = now + ttl
        return token

    async def release_slot(self, pool: str, token: str) -> None:
        self._check_open()
        self._slots.get(pool, {}).pop(token, None)

    async def expire_idle(self) -> int:
        self._check_open()
        now = self._clock()
        cutoff = now - self.idle_ttl
        self._locks = {n: held for n, held in self._locks.items() if held[1] > now}
        self._slots = {
            pool: live
            for pool, slots in self._slots.items()
            if (live := {t: exp for t, exp in slots.items() if exp > now})
        }
        self._uses = {b: uses for b, uses in self._uses.items() if uses and uses[-1] > now - 86400}
        stale = [k for k, row in self._rows.items() if row.updated_at < cutoff]
        for key in stale:
            del self._rows[key]
        return len(stale)

    async def list_records(self, prefix: str = "") -> list[Record]:
        self._check_open()
        now = self._clock()
        keys = sorted(k for k in self._rows if k.startswith(prefix))
        return [r for r in (self._record(k, now) for k in keys) if r is not None]

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
