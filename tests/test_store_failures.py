"""The store goes away in the middle of conversations — Redis restarted, the SQLite file locked by
another process or its disk full: the person is told to try again shortly, /readyz says not
ready, nothing is half-written, and once the store is back the conversation goes on where it was."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from fakeslack import FakeSlack
from fakeslack.events import app_mention_event, message_event, post_to_app
from faults import Record, record_fault
from mailnet.redis import RedisServer
from served import serve_app, slack_env

from bot.storage import ConversationStore, SQLiteStore
from bot.storage.redis import RedisStore

SECRET = "store-failure-secret"
_ts = itertools.count(1)
UNAVAILABLE = "もう一度送ってください"  # …「1〜2分ほどしてから、もう一度送ってください。」


@dataclass
class Bot:
    url: str
    fake: FakeSlack
    adapter: Any

    async def say(self, text: str) -> list[str]:
        before = len(self.fake.posted(channel="D1"))
        ts = f"1700009000.{next(_ts):06d}"
        status, _, _ = await post_to_app(
            f"{self.url}/slack/events", message_event(text, "D1", "U1", ts), None, SECRET
        )
        assert status == 200  # acknowledged at once, whatever the store does
        await self.adapter.drain()
        return [m.get("text", "") for m in self.fake.posted(channel="D1")[before:]]

    async def ready(self) -> int:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/readyz") as r:
            return r.status


@pytest_asyncio.fixture(loop_scope="function")
async def serving(mail_env: Any) -> AsyncIterator[Any]:
    async with contextlib.AsyncExitStack() as started:

        async def serve(store: ConversationStore) -> Bot:
            fake = await started.enter_async_context(FakeSlack())
            served = await started.enter_async_context(serve_app(store, slack_env(fake, SECRET)))
            return Bot(served.url, fake, served.adapters[0])

        yield serve


async def _first_two_steps(bot: Bot) -> None:
    assert any("ウェブサイト" in t for t in await bot.say("メールが送れない"))
    assert any("メールアドレス" in t for t in await bot.say("はい"))


async def _goes_on(bot: Bot) -> None:
    """The conversation continues at the address question, as if nothing had happened."""
    replies = await bot.say("taro@good.test")
    assert any("アプリ" in t for t in replies), replies


async def _back(bot: Bot, record_property: Record, fault: str, started: float) -> None:
    """The store is back: /readyz says ready, the conversation goes on, and the fault is
    recorded with the seconds since it began."""
    assert await bot.ready() == 200
    await _goes_on(bot)
    note = "「もう一度送ってください」; /readyz 503; then the case went on"
    record_fault(record_property, fault, "store", time.monotonic() - started, note=note)


@contextlib.asynccontextmanager
async def _on_redis(serving: Any) -> AsyncIterator[tuple[Bot, RedisServer]]:
    """A bot on its own durable Redis, two steps into a conversation."""
    server = RedisServer.start(durable=True)
    store = RedisStore(server.url(0), socket_timeout=1.0)
    try:
        bot = await serving(store)
        await _first_two_steps(bot)
        yield bot, server
    finally:
        await store.close()
        server.stop()


async def test_redis_restarted_mid_conversation(serving: Any, record_property: Record) -> None:
    async with _on_redis(serving) as (bot, server):
        server.halt()
        started = time.monotonic()
        assert await bot.ready() == 503
        replies = await bot.say("taro@good.test")
        assert len(replies) == 1 and UNAVAILABLE in replies[0]
        server.resume()
        await _back(bot, record_property, "Redis restarted", started)


async def test_sqlite_file_locked_by_another_process(
    serving: Any, tmp_path: Path, record_property: Record
) -> None:
    db = tmp_path / "state.db"
    store = SQLiteStore(db, busy_timeout=0.2)
    try:
        bot = await serving(store)
        await _first_two_steps(bot)
        started = time.monotonic()
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            assert await bot.ready() == 503
            replies = await bot.say("taro@good.test")
            assert len(replies) == 1 and UNAVAILABLE in replies[0]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await _back(bot, record_property, "SQLite file locked by another process", started)
    finally:
        await store.close()


class FillableDisk(SQLiteStore):
    """A real SQLite file whose disk can be made full: SQLite's own page limit, then lifted."""

    full = False

    def _after_connect(self, conn: sqlite3.Connection) -> None:
        self._conn_ref = conn

    def set_full(self, full: bool) -> None:
        conn = self._conn_ref
        if not full:
            conn.execute("PRAGMA max_page_count = 1000000000")
            conn.execute("DELETE FROM locks WHERE name LIKE 'filler-%'")
            return
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages}")
        # Fill what is left of the file, down to the last few bytes of every page.
        filler = itertools.count()
        for size in (2000, 200, 20, 1):
            try:
                while True:
                    conn.execute(
                        "INSERT INTO locks (name, token, expires_at) VALUES (?, ?, 0)",
                        (f"filler-{next(filler)}", "x" * size),
                    )
            except sqlite3.OperationalError:
                pass


async def test_sqlite_disk_full(serving: Any, tmp_path: Path, record_property: Record) -> None:
    store = FillableDisk(tmp_path / "state.db")
    try:
        bot = await serving(store)
        await _first_two_steps(bot)
        started = time.monotonic()
        store.set_full(True)
        assert await bot.ready() == 503
        # Nothing can be saved, and the person is told.
        replies = await bot.say("taro@good.test")
        assert replies and UNAVAILABLE in replies[-1]
        store.set_full(False)
        await _back(bot, record_property, "SQLite disk full", started)
    finally:
        await store.close()


async def test_the_apology_follows_the_person_s_language(serving: Any) -> None:
    server = RedisServer.start()
    store = RedisStore(server.url(0), socket_timeout=1.0)
    try:
        bot = await serving(store)
        bot.fake.add_user("U2", locale="en-US")
        server.halt()
        ts = f"1700009000.{next(_ts):06d}"
        await post_to_app(
            f"{bot.url}/slack/events",
            message_event("I can't send mail", "D2", "U2", ts),
            None,
            SECRET,
        )
        await bot.adapter.drain()
        texts = [m.get("text", "") for m in bot.fake.posted(channel="D2")]
        assert len(texts) == 1 and "send that again" in texts[0]
    finally:
        await store.close()
        server.stop()


async def test_a_redis_restart_while_nobody_writes_costs_no_message(serving: Any) -> None:
    async with _on_redis(serving) as (bot, server):
        server.halt()
        server.resume()
        # The pooled connection died with the old server: the client notices the closed
        # socket before using it, so the next message just works.
        await _goes_on(bot)


async def test_during_an_outage_channel_chatter_gets_no_apology(serving: Any) -> None:
    async with _on_redis(serving) as (bot, server):
        server.halt()
        ts = f"1700009000.{next(_ts):06d}"
        chatter = message_event("今日のランチどうする?", "C7", "U5", ts)
        await post_to_app(f"{bot.url}/slack/events", chatter, None, SECRET)
        ts = f"1700009000.{next(_ts):06d}"
        mention = app_mention_event("メールが送れない", "C7", "U5", ts)  # "<@bot> " prepended
        await post_to_app(f"{bot.url}/slack/events", mention, None, SECRET)
        await bot.adapter.drain()
        texts = [m.get("text", "") for m in bot.fake.posted(channel="C7")]
        # Only the message meant for the bot is answered: "try again in a minute".
        assert len(texts) == 1 and UNAVAILABLE in texts[0], texts
        server.resume()
