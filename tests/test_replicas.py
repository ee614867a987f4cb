"""Two real `mail-doctor serve` processes on one real redis-server, behind the fake Slack and
Telegram servers: one conversation's events go alternately to both, every event is delivered
again to the other replica (as a platform retries), and one replica is killed with SIGKILL in the
middle of a check. The other carries on: every message gets exactly one answer, nothing is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
import redis
from fakeslack import FakeSlack
from fakeslack.events import message_event, post_to_app
from faketelegram import FakeTelegram
from faults import Record, record_fault
from mailnet.redis import RedisServer, free_port

PROJECT = Path(__file__).resolve().parents[1]
SECRET = "replica-signing-secret"
TG_SECRET = "replica-webhook-secret"
CHECK_TIMEOUT = 3  # seconds; a check's lease is then 2 * 3 + 10 = 16 s
_ts = itertools.count(1)


@dataclass
class Replica:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    async def ready(self, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                assert self.alive, f"{self.name} exited:\n{self.log.read_text()[-3000:]}"
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@dataclass
class Cluster:
    replicas: list[Replica]
    slack: FakeSlack
    telegram: FakeTelegram


def _start(name: str, env: dict[str, str], tmp: Path) -> Replica:
    port = free_port()
    log = tmp / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=PROJECT,
        env={**env, "MAIL_DOCTOR_HTTP_PORT": str(port)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Replica(name, f"http://127.0.0.1:{port}", proc, log)


@pytest_asyncio.fixture(loop_scope="function")
async def cluster(
    mail_env: Any, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Cluster]:
    with redis.Redis.from_url(redis_server.url(3)) as client:
        client.flushdb()
    async with FakeSlack() as slack, FakeTelegram() as telegram:
        env = {
            **os.environ,  # the test network's DNS and CA (mail_env) among them
            "PYTHONPATH": str(PROJECT),
            "MAIL_DOCTOR_STORE": redis_server.url(3),
            "MAIL_DOCTOR_HTTP_HOST": "127.0.0.1",
            "MAIL_DOCTOR_CHECK_TIMEOUT": str(CHECK_TIMEOUT),
            "MAIL_DOCTOR_LOG_LEVEL": "INFO",
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.base_url,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        }
        replicas = [_start(name, env, tmp_path) for name in ("replica-a", "replica-b")]
        try:
            await asyncio.gather(*(r.ready() for r in replicas))
            yield Cluster(replicas, slack, telegram)
        finally:
            for replica in replicas:
                if replica.alive:
                    replica.proc.send_signal(signal.SIGTERM)
            for replica in replicas:
                try:
                    replica.proc.wait(15)
                except subprocess.TimeoutExpired:
                    replica.kill()


async def _settled(count: Callable[[], int], before: int, quiet: float = 0.8) -> int:
    """Wait for new posts after `before`, then until none has come for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while count() <= before:
        assert loop.time() < deadline, "no answer"
        await asyncio.sleep(0.05)
    last, since = count(), loop.time()
    while loop.time() - since < quiet:
        await asyncio.sleep(0.05)
        if count() != last:
            last, since = count(), loop.time()
    return last


class SlackPerson:
    """One person in a Slack DM; each message is delivered to one replica and retried to the
    other, as Slack retries an event it thinks was not acknowledged."""

    def __init__(self, cluster: Cluster, channel: str = "D1", user: str = "U1") -> None:
        self.cluster, self.channel, self.user = cluster, channel, user

    def posts(self) -> list[dict[str, Any]]:
        return self.cluster.slack.posted(channel=self.channel)

    async def say(self, text: str, first: Replica, retry_to: Replica | None) -> list[dict]:
        before = len(self.posts())
        ts = f"1700005000.{next(_ts):06d}"
        event = message_event(text, self.channel, self.user, ts)
        deliveries = [(first, None)] + ([(retry_to, 1)] if retry_to else [])
        delivered = False
        for replica, retry in deliveries:
            try:
                status, _, _ = await post_to_app(
                    f"{replica.url}/slack/events", event, None, SECRET, retry_num=retry
                )
                delivered = delivered or status == 200
            except aiohttp.ClientError:
                assert not replica.alive  # only a killed replica cannot be reached
        assert delivered
        after = await _settled(lambda: len(self.posts()), before)
        return self.posts()[before:after]


def _step(post: dict[str, Any]) -> str:
    return str(post["metadata"]["event_payload"]["step"])


async def test_a_conversation_survives_a_replica_killed_mid_check(
    cluster: Cluster, record_property: Record
) -> None:
    a, b = cluster.replicas
    person = SlackPerson(cluster)
    script = [
        ("メールが送れない", a, b, "ask_connectivity"),
        ("はい", b, a, "ask_address"),
        ("taro@firewalled.test", a, b, "ask_client"),
        ("Thunderbird", b, a, "ask_settings"),
    ]
    for text, first, retry_to, step in script:
        new = await person.say(text, first, retry_to)
        # One answer: the question of the next step, asked once, by one replica.
        assert [_step(p) for p in new].count(step) == 1, [p["text"] for p in new]
        assert _step(new[-1]) == step

    # The settings start a check on replica A (the port is dropped: it takes the whole
    # deadline). A is killed as soon as it says it is checking.
    before = len(person.posts())
    ts = f"1700005000.{next(_ts):06d}"
    event = message_event("SMTPは mail.firewalled.test、ポート587、STARTTLS", "D1", "U1", ts)
    status, _, _ = await post_to_app(f"{a.url}/slack/events", event, None, SECRET)
    assert status == 200
    await cluster.slack.wait_for(lambda: len(person.posts()) > before, timeout=10)
    assert _step(person.posts()[-1]) == "diagnosing"
    a.kill()
    killed = time.monotonic()
    await post_to_app(f"{b.url}/slack/events", event, None, SECRET, retry_num=1)

    # Replica B takes the check over once A's lease has lapsed, without anyone writing again.
    await cluster.slack.wait_for(
        lambda: any(_step(p) == "ask_resolved" for p in person.posts()[before:]), timeout=45
    )
    after = await _settled(lambda: len(person.posts()), before)
    new = person.posts()[before:after]
    steps = [_step(p) for p in new]
    assert steps.count("diagnosis") == 1 and steps.count("ask_resolved") == 1, steps
    diagnosis = next(p for p in new if _step(p) == "diagnosis")
    assert "587" in diagnosis["text"]
    record_fault(
        record_property,
        "a replica SIGKILLed mid-check",
        "replica",
        time.monotonic() - killed,
        lost=0,
        note="diagnosis from the other replica after the lease lapsed",
    )

    # The next message goes to the dead replica first; Slack's retry reaches B.
    closing = await person.say("できた", a, b)
    texts = [p["text"] for p in closing]
    assert {_step(p) for p in closing} == {"closed"}
    assert len(texts) == len(set(texts)) and sum("まとめ" in t for t in texts) == 1, texts
    log_b = b.log.read_text()
    assert "Traceback" not in log_b
    # The logs are JSON lines tagged with the conversation and case; no secret, nothing typed.
    entries = [json.loads(line) for line in log_b.splitlines() if line.startswith("{")]
    resumed = [e for e in entries if "resuming a check" in e["message"]]
    assert len(resumed) == 1
    conversation = resumed[0]["conversation"]
    assert conversation.startswith("slack:") and conversation.endswith(":D1:-:U1")
    assert resumed[0]["case"].startswith("MD-")
    for log in (a.log.read_text(), log_b):
        for secret in (cluster.slack.token, SECRET, cluster.telegram.token, TG_SECRET):
            assert secret not in log
        assert "メールが送れない" not in log and "Thunderbird" not in log


async def test_telegram_updates_delivered_to_both_replicas_are_answered_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.replicas
    tg = cluster.telegram
    chat = 5001
    for n, (text, step_word) in enumerate(
        (("メールが受信できない", "ウェブサイト"), ("はい", "メールアドレス"))
    ):
        before = len(tg.sent(chat))
        update = tg.push_message(text, chat, chat)
        first, second = (a, b) if n % 2 == 0 else (b, a)
        for replica in (first, second):
            status, _ = await tg.post_webhook(f"{replica.url}/telegram/webhook", update, TG_SECRET)
            assert status == 200
        after = await _settled(lambda: len(tg.sent(chat)), before)
        new = tg.sent(chat)[before:after]
        assert len([m for m in new if step_word in m.get("text", "")]) == 1, new


async def test_sigterm_stops_a_replica_cleanly(cluster: Cluster) -> None:
    a, b = cluster.replicas
    a.proc.send_signal(signal.SIGTERM)  # docker stop, kubectl delete pod, systemctl stop
    assert await asyncio.to_thread(a.proc.wait, 15) == 0
    assert "Traceback" not in a.log.read_text()
    await b.ready()  # the other one serves on
