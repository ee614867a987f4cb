"""The Redis conversation store: the conformance suite against a real redis-server, plus
Redis's own concerns (URLs, key prefixes, key TTLs, an unreachable server, passwords)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis
from mailnet.redis import RedisServer, free_port
from storage_conformance import IDLE_TTL, FakeClock, StoreConformance

from bot.storage import Clock, ConversationStore, StoreUnavailable, open_store
from bot.storage.redis import RedisStore, describe_url, glob_escape


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of an empty database on the test server."""
    url = redis_server.url(0)
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    yield url


def raw(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


class TestRedisConformance(StoreConformance):
    persistent = True
    shared = True

    @pytest.fixture(autouse=True)
    def _url(self, redis_url: str) -> None:
        self.url = redis_url

    async def make_store(self, clock: Clock, *, idle_ttl: float = IDLE_TTL) -> ConversationStore:
        return RedisStore(self.url, idle_ttl=idle_ttl, clock=clock)

    def store_url(self) -> str | None:
        return self.url  # open_store uses the default prefix, as make_store does

    # The suite's own closing fixture runs on the session's event loop; Redis connections
    # belong to the test's loop, so close them there.
    @pytest_asyncio.fixture(autouse=True, loop_scope="function")
    async def _close_stores(self) -> AsyncIterator[None]:
        self._stores: list[ConversationStore] = []
        yield
        for store in self._stores:
            await store.close()


async def test_open_store_gives_a_redis_store(redis_url: str) -> None:
    store = open_store(redis_url, idle_ttl=60)
    try:
        assert isinstance(store, RedisStore)
        assert (store.idle_ttl, store.prefix) == (60, "mail-doctor:")
        saved = await store.save("k", {"ok": True}, 1, 0)
        assert await store.load("k") == saved
        assert await store.ping() is True
    finally:
        await store.close()


async def test_layout_and_key_ttls(redis_url: str) -> None:
    clock = FakeClock()
    async with RedisStore(redis_url, idle_ttl=IDLE_TTL, clock=clock) as store:
        await store.save("k", {"a": 1}, 3, 0)
        assert await store.claim_event("evt", ttl=30)
    with raw(redis_url) as client:
        assert client.hgetall("mail-doctor:conv:k") == {
            b"state": b'{"a":1}',
            b"schema": b"3",
            b"version": b"1",
            b"updated_at": repr(clock.now).encode(),
        }
        # Redis cleans up by itself what nobody touches again.
        assert 0 < client.pttl("mail-doctor:conv:k") <= IDLE_TTL * 1000
        assert 0 < client.pttl("mail-doctor:event:evt") <= 30_000
        assert float(client.get("mail-doctor:event:evt")) == clock.now + 30


async def test_prefixes_keep_stores_apart(redis_url: str) -> None:
    clock = FakeClock()
    first = RedisStore(redis_url, idle_ttl=IDLE_TTL, clock=clock, prefix="bot-a:")
    # Wildcards in the store's own prefix are literal too.
    second = RedisStore(redis_url, clock=clock, prefix="bot-*:")
    try:
        await first.save("k", {"who": "a"}, 1, 0)
        await second.save("k", {"who": "b"}, 1, 0)
        await second.save("k2", {"who": "b"}, 1, 0)
        assert await first.claim_event("evt") is True
        assert await second.claim_event("evt") is True
        assert [r.state for r in await first.list_records()] == [{"who": "a"}]
        assert [r.key for r in await second.list_records()] == ["k", "k2"]
        clock.advance(IDLE_TTL + 1)
        assert await first.expire_idle() == 1
        assert await second.expire_idle() == 0  # its idle_ttl is the default day
        assert [r.key for r in await second.list_records()] == ["k", "k2"]
    finally:
        await first.close()
        await second.close()


async def test_corrupt_record_is_dropped_and_logged_without_content(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    async with RedisStore(redis_url, clock=clock) as store:
        await store.save("k", {}, 1, 0)
        await store.save("j", {}, 1, 0)
        with raw(redis_url) as client:
            client.hset("mail-doctor:conv:k", "state", "secret words, not JSON")
            client.hset("mail-doctor:conv:j", "schema", "x")
        with caplog.at_level(logging.WARNING):
            assert await store.load("k") is None
            assert await store.list_records() == []
        assert "discarded record 'k'" in caplog.text
        assert "discarded record 'j'" in caplog.text
        assert "secret words" not in caplog.text
        with raw(redis_url) as client:
            assert client.keys("mail-doctor:conv:*") == []
        assert (await store.save("k", {}, 1, 0)).version == 1


async def test_unreachable_server_is_unavailable_quickly() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match="cannot be reached") as info:
            await store.load("k")
        with pytest.raises(StoreUnavailable):
            await store.save("k", {}, 1, 0)
        with pytest.raises(StoreUnavailable):
            await store.claim_event("evt")
        assert await store.ping() is False
    finally:
        await store.close()
    assert time.monotonic() - started < 3
    assert "redis://127.0.0.1:" in str(info.value)


async def test_stopped_server_is_unavailable_and_ping_says_so() -> None:
    server = RedisServer.start()
    store = RedisStore(server.url(), socket_timeout=0.5)
    try:
        await store.save("k", {}, 1, 0)
        assert await store.ping() is True
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.load("k")
        assert await store.ping() is False
        assert time.monotonic() - started < 3
    finally:
        server.stop()
        await store.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:secret@127.0.0.1:1/0",
        "redis://bot:secret@127.0.0.1:1/0",
        "rediss://:secret@127.0.0.1:1/2",
    ],
)
async def test_messages_do_not_leak_the_password(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(url)
    try:
        with pytest.raises(StoreUnavailable) as info:
            await store.load("k")
        with caplog.at_level(logging.WARNING):
            assert await store.ping() is False
    finally:
        await store.close()
    with pytest.raises(StoreUnavailable) as closed:
        await store.load("k")
    for text in (str(info.value), str(closed.value), caplog.text):
        assert "secret" not in text
        assert "127.0.0.1:1/" in text


def test_malformed_url_does_not_leak_the_password() -> None:
    with pytest.raises(ValueError) as info:
        RedisStore("redis://:secret@127.0.0.1:notaport/0")
    assert "secret" not in str(info.value)


def test_helpers() -> None:
    assert describe_url("redis://u:pw@h:1/2?x=pw#pw") == "redis://h:1/2"
    assert describe_url("rediss://[::1]:6380/0") == "rediss://[::1]:6380/0"
    assert glob_escape(r"a*b?c[d]e\f") == r"a\*b\?c\[d\]e\\f"


def test_constructor_checks_its_options() -> None:
    with pytest.raises(ValueError):
        RedisStore("redis://127.0.0.1:1/0", idle_ttl=0)
    with pytest.raises(ValueError):
        RedisStore("redis://127.0.0.1:1/0", socket_timeout=-1)
