"""The conversation state store interface, shared by every backend (SQLite now, Redis later).

A store keeps one JSON document per conversation key, versioned for compare-and-set, and
remembers which platform event ids were already handled so redeliveries are ignored.
"""

from __future__ import annotations

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

Clock = Callable[[], float]  # unix time in seconds; injectable so tests can move time

DEFAULT_IDLE_TTL = 86400.0  # a conversation untouched for a day is forgotten
DEFAULT_EVENT_TTL = 86400.0  # platforms redeliver within minutes; a day is generous


class StaleWrite(Exception):
    """expected_version did not match: someone else wrote first (or the record is gone)."""


class StoreUnavailable(Exception):
    """The store cannot be reached, is locked, or its disk is full; the message says which."""


@dataclass(frozen=True)
class Record:
    key: str  # conversation key, e.g. "console:local:default:-:me" (opaque to the store)
    state: dict[str, Any]  # JSON-serialisable
    schema: int  # the dialogue's schema version that wrote it
    version: int  # 1 on first write, +1 on each write
    updated_at: float  # unix time


class ConversationStore(ABC):
    """Async conversation state store. Idle-expired records behave exactly like absent ones."""

    @abstractmethod
    async def load(self, key: str) -> Record | None:
        """The record, or None if absent or idle-expired (an expired one is also deleted)."""

    @abstractmethod
    async def save(
        self, key: str, state: dict[str, Any], schema: int, expected_version: int
    ) -> Record:
        """Atomically write `state`. expected_version 0 creates the record (StaleWrite if it
        exists); n replaces version n (StaleWrite otherwise). Returns the record as stored."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the record; absent keys are fine."""

    @abstractmethod
    async def claim_event(self, event_id: str, ttl: float = DEFAULT_EVENT_TTL) -> bool:
        """True the first time `event_id` is claimed, False for a redelivery within `ttl`
        seconds. Atomic across processes sharing the store."""

    # -- coordination between replicas: locks, rate limits and a pool of slots

    @abstractmethod
    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        """A token if `name` was free (or its holder's lease ran out), else None. The lock
        lapses after `ttl` seconds, so a holder that dies does not keep it."""

    @abstractmethod
    async def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Make the lock `token` holds lapse `ttl` seconds from now (a holder's heartbeat);
        False if it no longer holds it."""

    @abstractmethod
    async def release_lock(self, name: str, token: str) -> bool:
        """Free `name` if `token` still holds it; False (and nothing changed) otherwise."""

    @abstractmethod
    async def take_rate(self, limits: Sequence[tuple[str, int]], window: float) -> float:
        """Count one use in every (bucket, limit) pair if each bucket saw fewer than `limit`
        uses in the last `window` seconds, and return 0. Otherwise count nothing and return
        the seconds until every bucket has room again. All or nothing, atomically."""

    @abstractmethod
    async def take_slot(self, pool: str, limit: int, ttl: float) -> str | None:
        """A token for one of `limit` slots of `pool`, or None if all are taken. A slot not
        given back lapses after `ttl` seconds."""

    @abstractmethod
    async def release_slot(self, pool: str, token: str) -> None:
        """Give the slot back; an unknown or lapsed token is fine."""

    @abstractmethod
    async def expire_idle(self) -> int:
        """Delete records idle longer than idle_ttl; return how many were deleted."""

    @abstractmethod
    async def list_records(self, prefix: str = "") -> list[Record]:
        """Live records whose key starts with `prefix` (literally), sorted by key."""

    @abstractmethod
    async def ping(self) -> bool:
        """True if the store answers (for readiness checks); never raises."""

    @abstractmethod
    async def close(self) -> None:
        """Release the store's resources; later calls raise StoreUnavailable. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# Helpers so every backend validates and serialises identically.


def encode_state(state: dict[str, Any]) -> str:
    """Strict JSON text for `state`; TypeError/ValueError if it is not a JSON object."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, not {type(state).__name__}")
    # allow_nan=False: NaN/Infinity are not JSON, and another backend's reader may reject them.
    return json.dumps(state, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def decode_state(text: str | bytes) -> dict[str, Any] | None:
    """The state stored as `text`, or None if it is not a JSON object (a corrupt row)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):  # includes UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


def check_save_args(schema: int, expected_version: int) -> None:
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise TypeError("schema must be an int")
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise TypeError("expected_version must be an int")
    if expected_version < 0:
        raise ValueError("expected_version must be 0 (create) or a positive version")


def check_ttl(name: str, ttl: float) -> float:
    if not ttl > 0:  # also rejects NaN
        raise ValueError(f"{name} must be a positive number of seconds, not {ttl!r}")
    return float(ttl)


def check_limits(limits: Sequence[tuple[str, int]], window: float) -> list[tuple[str, int]]:
    check_ttl("window", window)
    checked = []
    for bucket, limit in limits:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"the limit of {bucket!r} must be a positive int, not {limit!r}")
        checked.append((bucket, limit))
    return checked


def new_token() -> str:
    return secrets.token_hex(16)
