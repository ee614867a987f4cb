"""The Redis conversation store: shareable by bot processes on several hosts.

A record is a hash under `prefix + "conv:" + key` with the fields state (JSON text), schema,
version and updated_at (unix seconds from the store's clock). Every write that depends on what
is stored runs as one Lua script, so Redis decides races between connections and processes.

Idle expiry follows the injected clock, as in the other backends (so tests can move time); a
Redis key TTL of idle_ttl is set on every write as well, so that Redis itself cleans up records
nobody loads again. Event claims store their clock-based expiry time as the value, and a key
TTL of the claim's ttl for the same reason.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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

log = logging.getLogger(__name__)

T = TypeVar("T")

SCAN_COUNT = 500  # keys per SCAN round trip

# KEYS[1] record; ARGV expected_version, state, schema, now, cutoff, ttl_ms.
# Returns the new version, or 0 if the stored live version is not expected_version.
_SAVE = """
local found = redis.call('HMGET', KEYS[1], 'version', 'updated_at')
local live = 0
if found[1] and found[2] and tonumber(found[2]) and tonumber(found[2]) >= tonumber(ARGV[5])
then
    live = tonumber(found[1]) or -1
end
if live ~= tonumber(ARGV[1]) then
    return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'schema', ARGV[3], 'version', live + 1,
           'updated_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return live + 1
"""

# KEYS[1] record; ARGV cutoff. The record's fields if it is live; if it is idle-expired it is
# deleted and nothing is returned.
_LOAD = """
local found = redis.call('HMGET', KEYS[1], 'state', 'schema', 'version', 'updated_at')
if not found[4] then
    return false
end
if tonumber(found[4]) and tonumber(found[4]) < tonumber(ARGV[1]) then
    redis.call('DEL', KEYS[1])
    return false
end
return found
"""

# KEYS[1] record; ARGV cutoff. Deletes the record if it is idle-expired; returns 1 if it did.
_EXPIRE = """
local updated = redis.call('HGET', KEYS[1], 'updated_at')
if updated and tonumber(updated) and tonumber(updated) < tonumber(ARGV[1]) then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] record; ARGV version. Deletes the record if it is still at that version.
_DISCARD = """
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] event; ARGV now, expires_at, ttl_ms. 1 if the claim is new or replaces a lapsed one.
_CLAIM = """
local held = tonumber(redis.call('GET', KEYS[1]))
if held and held > tonumber(ARGV[1]) then
    return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS[1] lock; ARGV token. Deletes the lock only if this token holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] lock; ARGV token, ttl_ms. Pushes the lock's lapse back only if this token holds it.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS bucket sorted sets (member -> time of use); ARGV now, window, member, then the limits.
# Returns "0" after counting one use in every bucket, or the seconds to wait (nothing counted).
_TAKE_RATE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[3 + i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if redis.call('ZCARD', key) >= limit then
        local held = redis.call('ZREVRANGE', key, limit - 1, limit - 1, 'WITHSCORES')
        wait = math.max(wait, tonumber(held[2]) + window - now)
    end
end
if wait > 0 then
    return tostring(wait)
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[3])
    redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return "0"
"""

# KEYS[1] pool sorted set (token -> expiry); ARGV now, limit, token, expires_at, ttl_ms.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisStore(ConversationStore):
    """Conversation store in the Redis database named by `url` (redis:// or rediss://).

    Keys start with `prefix`, so several bots (or tests) can share one database.
    socket_timeout: seconds to wait for a connection or an answer before a call fails with
    StoreUnavailable. Failed calls are not retried: a retried save could report StaleWrite for
    a write that in fact succeeded. Connects on first use; use the store from one event loop.
    """

    def __init__(
        self,
        url: str,
        *,
        idle_ttl: float = DEFAULT_IDLE_TTL,
        clock: Clock = time.time,
        prefix: str = "mail-doctor:",
        socket_timeout: float = 5.0,
    ) -> None:
        self.idle_ttl = check_ttl("idle_ttl", idle_ttl)
        self.socket_timeout = check_ttl("socket_timeout", socket_timeout)
        self.prefix = prefix
        self.name = describe_url(url)  # never holds the password: it goes into messages
        self._password = urlsplit(url).password or ""
        self._clock = clock
        self._closed = False
        try:
            self._client: Redis = Redis.from_url(
                url,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError:  # a malformed URL; the error's text may quote the password
            raise ValueError(f"unusable Redis URL {self.name}") from None
        self._save_script = self._client.register_script(_SAVE)
        self._load_script = self._client.register_script(_LOAD)
        self._expire_script = self._client.register_script(_EXPIRE)
        self._discard_script = self._client.register_script(_DISCARD)
        self._claim_script = self._client.register_script(_CLAIM)
        self._release_script = self._client.register_script(_RELEASE)
        self._extend_script = self._client.register_script(_EXTEND)
        self._rate_script = self._client.register_script(_TAKE_RATE)
        self._slot_script = self._client.register_script(_TAKE_SLOT)

    # -- the interface

    async def load(self, key: str) -> Record | None:
        cutoff = self._clock() - self.idle_ttl
        found = await self._call(self._load_script(keys=[self._key(key)], args=[repr(cutoff)]))
        if not found:
            return None
        return await self._decode(key, found)

    async def save(
        self, key: str, state: dict[str, Any], schema: int, expected_version: int
    ) -> Record:
        check_save_args(schema, expected_version)
        text = encode_state(state)
        now = self._clock()
        args: list[str | int] = [expected_version, text, schema, repr(now)]
        args += [repr(now - self.idle_ttl), _millis(self.idle_ttl)]
        version = await self._call(self._save_script(keys=[self._key(key)], args=args))
        if not version:
            raise StaleWrite(f"{key!r} is no longer at version {expected_version}")
        decoded = decode_state(text)
        assert decoded is not None  # encode_state only makes JSON objects
        return Record(key, decoded, schema, int(version), now)

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete(self._key(key)))

    async def claim_event(self, event_id: str, ttl: float = DEFAULT_EVENT_TTL) -> bool:
        ttl = check_ttl("ttl", ttl)
        now = self._clock()
        key = self.prefix + "event:" + event_id
        won = await self._call(
            self._claim_script(keys=[key], args=[repr(now), repr(now + ttl), _millis(ttl)])
        )
        return bool(won)

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        # SET NX PX: Redis itself lets the lock lapse when its holder dies (in real time, not
        # the injected clock).
        ttl = check_ttl("ttl", ttl)
        token = new_token()
        key = self.prefix + "lock:" + name
        won = await self._call(self._client.set(key, token, nx=True, px=_millis(ttl)))
        return token if won else None

    async def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        ttl = check_ttl("ttl", ttl)
        key = self.prefix + "lock:" + name
        extended = await self._call(self._extend_script(keys=[key], args=[token, _millis(ttl)]))
        return bool(extended)

    async def release_lock(self, name: str, token: str) -> bool:
        key = self.prefix + "lock:" + name
        return bool(await self._call(self._release_script(keys=[key], args=[token])))

    async def take_rate(self, limits: Sequence[tuple[str, int]], window: float) -> float:
        checked = check_limits(limits, window)
        keys = [self.prefix + "rate:" + bucket for bucket, _ in checked]
        args: list[str | int] = [repr(self._clock()), repr(float(window)), new_token()]
        args += [limit for _, limit in checked]
        wait = await self._call(self._rate_script(keys=keys, args=args))
        return max(0.0, float(wait))

    async def take_slot(self, pool: str, limit: int, ttl: float) -> str | None:
        check_limits([(pool, limit)], ttl)
        token, now = new_token(), self._clock()
        args: list[str | int] = [repr(now), limit, token, repr(now + ttl), _millis(ttl)]
        won = await self._call(self._slot_script(keys=[self.prefix + "slots:" + pool], args=args))
        return token if won else None

    async def release_slot(self, pool: str, token: str) -> None:
        await self._call(self._client.zrem(self.prefix + "slots:" + pool, token))

    async def expire_idle(self) -> int:
        # Lapsed event claims need no sweep here: their key TTL removes them.
        cutoff = repr(self._clock() - self.idle_ttl)
        deleted = 0
        for name in await self._scan(""):
            deleted += int(await self._call(self._expire_script(keys=[name], args=[cutoff])))
        return deleted

    async def list_records(self, prefix: str = "") -> list[Record]:
        cutoff = self._clock() - self.idle_ttl
        names = await self._scan(prefix)
        if not names:
            return []
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(name, ["state", "schema", "version", "updated_at"])
        rows = await self._call(pipe.execute())
        records: list[Record] = []
        start = len(self._key(""))
        for name, row in zip(names, rows, strict=True):
            key = name[start:].decode("utf-8", "surrogateescape")
            if not key.startswith(prefix) or row[3] is None:
                continue  # SCAN may see a key deleted since
            try:
                live = float(row[3]) >= cutoff
            except ValueError:
                live = True  # let _decode discard it
            if live:
                record = await self._decode(key, row)
                if record is not None:
                    records.append(record)
        return sorted(records, key=lambda r: r.key)

    async def ping(self) -> bool:
        if self._closed:
            return False
        try:
            await self._call(self._client.ping())
        except StoreUnavailable as exc:
            log.warning("%s", exc)
            return False
        return True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._client.aclose()
        except (RedisError, OSError) as exc:
            log.warning("conversation store %s: error on close: %s", self.name, self._scrub(exc))

    # -- helpers

    def _key(self, key: str) -> str:
        return self.prefix + "conv:" + key

    async def _scan(self, prefix: str) -> list[bytes]:
        """Names of the record keys whose conversation key starts with `prefix`."""
        pattern = glob_escape(self._key(prefix)) + "*"
        names: set[bytes] = set()  # SCAN may return a key more than once
        cursor: int = 0
        while True:
            cursor, batch = await self._call(
                self._client.scan(cursor, match=pattern, count=SCAN_COUNT)
            )
            names.update(n if isinstance(n, bytes) else n.encode() for n in batch)
            if cursor == 0:
                return sorted(names)

    async def _decode(self, key: str, row: list[Any]) -> Record | None:
        text, schema, version, updated_at = row
        state = decode_state(text) if text is not None else None
        try:
            numbers = (int(schema), int(version), float(updated_at))
        except (TypeError, ValueError):
            numbers = None
        if state is None or numbers is None:
            # Never log the content: it is someone's conversation.
            log.warning(
                "conversation store %s: discarded record %r, it is not a valid record",
                self.name,
                key,
            )
            await self._call(self._discard_script(keys=[self._key(key)], args=[version or b""]))
            return None
        return Record(key, state, *numbers)

    async def _call(self, pending: Awaitable[T]) -> T:
        if self._closed:
            if isinstance(pending, Coroutine):
                pending.close()  # an unawaited coroutine would warn
            raise StoreUnavailable(f"conversation store {self.name} is closed")
        try:
            return await pending
        except (RedisError, OSError) as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> NoReturn:
        if isinstance(exc, AuthenticationError):
            reason = "refused our credentials"
        elif isinstance(exc, RedisTimeoutError):
            reason = f"did not answer (gave up after {self.socket_timeout:g}s)"
        elif isinstance(exc, RedisConnectionError | OSError):
            reason = f"cannot be reached: {self._scrub(exc)}"
        else:
            reason = f"failed: {self._scrub(exc)}"
        raise StoreUnavailable(f"conversation store {self.name} {reason}") from exc

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return text.replace(self._password, "***") if self._password else text


def describe_url(url: str) -> str:
    """`url` without credentials, query or fragment: safe to show in messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "(unparsable Redis URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def glob_escape(text: str) -> str:
    """`text` with Redis MATCH wildcards (* ? [ ] and the backslash) taken literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
