"""Slack and Telegram down for a while — 5xx, timeouts, rate limits: the replies are retried
with growing waits and delivered once the platform is back, exactly once, in order; past the
delivery deadline the case records that they could not be delivered."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fakeslack import FakeSlack
from fakeslack.events import message_event, post_to_app
from faketelegram import FakeTelegram
from faults import Record, record_fault
from served import serve_app, slack_env

from bot.metrics import Metrics
from bot.serve import build_app
from bot.storage import SQLiteStore
from conversations.state import State

SECRET = "platform-failure-secret"
# One platform call may take a second; a reply is retried for 8 seconds.
TIMING = {"MAIL_DOCTOR_PLATFORM_TIMEOUT": "1", "MAIL_DOCTOR_DELIVERY_SECONDS": "8"}
_ts = itertools.count(1)


@dataclass
class Slack:
    url: str
    fake: FakeSlack
    adapter: Any
    store: SQLiteStore
    metrics: Metrics

    async def say(self, text: str, channel: str = "D1") -> tuple[int, float]:
        """Post a message; (HTTP status, seconds until Slack got its acknowledgement)."""
        ts = f"1700011000.{next(_ts):06d}"
        started = time.monotonic()
        status, _, _ = await post_to_app(
            f"{self.url}/slack/events", message_event(text, channel, "U1", ts), None, SECRET
        )
        return status, time.monotonic() - started

    def texts(self, channel: str = "D1") -> list[str]:
        return [m.get("text", "") for m in self.fake.posted(channel=channel)]


@pytest_asyncio.fixture(loop_scope="function")
async def slack(mail_env: Any, tmp_path: Path) -> AsyncIterator[Slack]:
    async with FakeSlack() as fake:
        store = SQLiteStore(tmp_path / "state.db")
        metrics = Metrics()
        try:
            env = slack_env(fake, SECRET, **TIMING)
            async with serve_app(store, env, metrics) as served:
                yield Slack(served.url, fake, served.adapters[0], store, metrics)
        finally:
            await store.close()


@pytest.mark.parametrize(
    ("status", "hang"),
    [(503, 0.0), (500, 0.0), (429, 0.0), (503, 1.5)],  # the last: calls time out
    ids=["503", "500", "429", "timeout"],
)
async def test_slack_down_for_a_while_then_the_reply_arrives_once(
    slack: Slack, status: int, hang: float, record_property: Record
) -> None:
    slack.fake.outage("chat.postMessage", seconds=3, status=status, hang=hang)
    started = time.monotonic()
    code, ack = await slack.say("メールが送れない")
    assert code == 200 and ack < 1.0  # acknowledged at once, whatever Slack's state
    await slack.adapter.drain()
    texts = slack.texts()
    what = "times out" if hang else f"answers {status}"
    record_fault(
        record_property,
        f"Slack {what} for 3 s",
        "platform",
        time.monotonic() - started,
        lost=0 if texts else 1,
        ack_seconds=round(ack, 3),
        note=f"acknowledged in {ack * 1000:.0f} ms; the reply delivered once, when Slack was back",
    )
    assert len(texts) == 1 and "ウェブサイト" in texts[0]  # delivered, once
    sample = slack.metrics.api_retries.collect()[0].samples
    assert sum(s.value for s in sample) >= 1


async def test_replies_of_one_turn_keep_their_order_through_an_outage(slack: Slack) -> None:
    await slack.say("メールが送れない")
    await slack.adapter.drain()
    slack.fake.outage("chat.postMessage", seconds=2, status=502)
    await slack.say("ヘルプ")  # the help text, then the question again: two messages
    await slack.adapter.drain()
    texts = slack.texts()
    assert len(texts) == 3
    assert "ウェブサイト" in texts[-1]  # the question comes after the help, as sent


async def test_past_the_deadline_the_case_records_what_was_not_delivered(
    slack: Slack, record_property: Record
) -> None:
    slack.fake.outage("chat.postMessage", seconds=20, status=503)
    started = time.monotonic()
    await slack.say("メールが送れない")
    await slack.adapter.drain()  # gives up after MAIL_DOCTOR_DELIVERY_SECONDS (8 s)
    assert slack.texts() == []
    records = await slack.store.list_records()
    (record,) = records
    state = State.from_dict(record.state)
    # Not lost: the case says a reply could not be delivered.
    record_fault(
        record_property,
        "Slack down past the delivery deadline (8 s)",
        "platform",
        time.monotonic() - started,
        lost=0 if state.undelivered == 1 else 1,
        note="the case records the undelivered reply (undelivered: 1)",
    )
    assert state.undelivered == 1 and state.step == "ask_connectivity"
    errors = slack.metrics.api_errors.collect()[0].samples
    assert any(s.labels["platform"] == "slack" and s.value == 1 for s in errors)


async def test_a_final_slack_error_is_not_retried(slack: Slack) -> None:
    slack.fake.fail_next("chat.postMessage", 200, error="channel_not_found")
    started = time.monotonic()
    await slack.say("メールが送れない")
    await slack.adapter.drain()
    assert time.monotonic() - started < 3  # no waiting for a channel that does not exist
    assert len(slack.fake.calls_to("chat.postMessage")) == 1


@pytest_asyncio.fixture(loop_scope="function")
async def telegram(mail_env: Any, tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Any, Any]]:
    async with FakeTelegram() as fake:
        store = SQLiteStore(tmp_path / "state.db")
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url, **TIMING}
        _, adapters = build_app(store, env)
        bot = adapters[0]
        await bot.start(polling=True)
        try:
            yield fake, bot, store
        finally:
            await bot.stop()
            await store.close()


@pytest.mark.parametrize(
    ("status", "hang"), [(502, 0.0), (429, 0.0), (502, 1.5)], ids=["502", "429", "timeout"]
)
async def test_telegram_down_for_a_while_then_the_reply_arrives_once(
    telegram: tuple[FakeTelegram, Any, Any], status: int, hang: float, record_property: Record
) -> None:
    fake, _, _ = telegram
    fake.outage("sendMessage", seconds=3, status=status, hang=hang)
    started = time.monotonic()
    fake.push_message("メールが送れない", 6001, 6001)
    await fake.wait_for(lambda f: f.sent(chat_id=6001), timeout=20)
    took = time.monotonic() - started
    await asyncio.sleep(1.0)  # time for a duplicate to show, if one were coming
    texts = [m.get("text", "") for m in fake.sent(chat_id=6001)]
    what = "times out" if hang else f"answers {status}"
    note = "the reply delivered once, when Telegram was back"
    record_fault(record_property, f"Telegram {what} for 3 s", "platform", took, lost=0, note=note)
    assert len(texts) == 1 and "ウェブサイト" in texts[0]


async def test_telegram_past_the_deadline_is_recorded(
    telegram: tuple[FakeTelegram, Any, Any],
) -> None:
    fake, _, store = telegram
    fake.outage("sendMessage", seconds=30, status=502)
    fake.push_message("メールが送れない", 6002, 6002)

    async def recorded() -> bool:
        records = await store.list_records()
        return bool(records) and State.from_dict(records[0].state).undelivered == 1

    deadline = time.monotonic() + 20
    while not await recorded():
        assert time.monotonic() < deadline, "the undelivered reply was not recorded"
        await asyncio.sleep(0.2)
    assert fake.sent(chat_id=6002) == []
