"""What operators see of `mail-doctor serve`: /metrics, /healthz and /readyz, the JSON logs, and
configuration errors told plainly."""

from __future__ import annotations

import contextlib
import contextvars
import io
import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from fakeslack import FakeSlack
from fakeslack.events import message_event, post_to_app
from served import serve_app, slack_env

from bot import logs
from bot.serve import ServeError, build_app
from bot.storage import SQLiteStore

SECRET = "ops-signing-secret"
_ts = itertools.count(1)


@dataclass
class Served:
    url: str
    fake: FakeSlack
    store: SQLiteStore
    adapter: Any

    async def say(self, text: str) -> None:
        ts = f"1700007000.{next(_ts):06d}"
        await post_to_app(
            f"{self.url}/slack/events", message_event(text, "D1", "U1", ts), None, SECRET
        )
        await self.adapter.drain()

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as resp:
            return resp.status, await resp.text()


@pytest_asyncio.fixture(loop_scope="function")
async def served(mail_env: Any, tmp_path: Path) -> AsyncIterator[Served]:
    async with FakeSlack() as fake:
        store = SQLiteStore(tmp_path / "state.db")
        try:
            env = slack_env(fake, SECRET, MAIL_DOCTOR_CHECK_TIMEOUT="5")
            async with serve_app(store, env) as running:
                yield Served(running.url, fake, store, running.adapters[0])
        finally:
            await store.close()


def _samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value, from the Prometheus text format."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


async def test_metrics_count_messages_steps_findings_probes_and_retries(served: Served) -> None:
    served.fake.fail_next("chat.postMessage", 503)  # one failure, retried by the client
    for text in (
        "メールが送れない",
        "はい",
        "taro@good.test",
        "Thunderbird",
        "SMTPは mail.good.test、ポート587、SSL",
    ):
        await served.say(text)
    status, text = await served.get("/metrics")
    assert status == 200
    samples = _samples(text)
    assert samples['mail_doctor_messages_in_total{platform="slack"}'] == 5
    assert samples['mail_doctor_messages_out_total{kind="diagnosis",platform="slack"}'] == 1
    assert samples['mail_doctor_messages_out_total{kind="message",platform="slack"}'] >= 5
    # The diagnosis found implicit TLS asked for on the STARTTLS port.
    codes = {k for k in samples if k.startswith("mail_doctor_diagnoses_total")}
    assert codes, text
    assert samples['mail_doctor_conversations{status="open",step="ask_resolved"}'] == 1
    assert samples['mail_doctor_probe_seconds_count{protocol="smtp"}'] >= 1
    retried = 'mail_doctor_platform_api_retries_total{platform="slack",reason="server_error"}'
    assert samples[retried] == 1


async def test_api_errors_that_remain_are_counted(served: Served) -> None:
    served.fake.fail_next("chat.postMessage", 200, error="channel_not_found")
    await served.say("メールが送れない")
    _, text = await served.get("/metrics")
    key = 'mail_doctor_platform_api_errors_total{error="channel_not_found",platform="slack"}'
    assert _samples(text)[key] == 1


async def test_health_and_readiness(served: Served) -> None:
    assert await served.get("/healthz") == (200, '{"ok": true}')
    assert (await served.get("/readyz"))[0] == 200
    await served.store.close()  # the store is gone: not ready, but alive
    assert (await served.get("/readyz"))[0] == 503
    assert (await served.get("/healthz"))[0] == 200
    assert (await served.get("/metrics"))[0] == 503


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAIL_DOCTOR_USER_CHECKS_PER_MINUTE", "many"),
        ("MAIL_DOCTOR_MAX_CONCURRENT_CHECKS", "0"),
        ("MAIL_DOCTOR_WORKSPACE_CHECKS_PER_MINUTE", "-3"),
        ("MAIL_DOCTOR_CHECK_TIMEOUT", "forever"),
    ],
)
async def test_a_bad_limit_is_a_plain_configuration_error(
    tmp_path: Path, name: str, value: str
) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    env = {"TELEGRAM_BOT_TOKEN": "1:x", name: value}
    with pytest.raises(ServeError, match=name):
        build_app(store, env)
    await store.close()


@contextlib.contextmanager
def _capture(fmt: str = "json", level: str = "INFO") -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure(level, fmt, stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _log_in_a_case() -> None:
    logs.bind(conversation="slack:T1:D1:-:U1", case="MD-ABC123")
    log = logging.getLogger("mail-doctor.test")
    log.warning(
        "post failed with token xoxb-1234-5678-abcdef via https://u:hunter2@redis.example/0"
    )
    log.info("bot 123456789:AAEhBOweik9ai2o4YgAHXIVOADD6TbQZmf1 up")
    log.warning('rejected (body: {"event": {"text": "メールが送れない"}})')
    log.debug("not shown at INFO")


def test_json_logs_carry_the_conversation_and_case_and_no_secrets() -> None:
    with _capture() as stream:
        contextvars.copy_context().run(_log_in_a_case)  # the binding stays in that context
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert first["level"] == "WARNING" and first["logger"] == "mail-doctor.test"
    assert (first["conversation"], first["case"]) == ("slack:T1:D1:-:U1", "MD-ABC123")
    text = stream.getvalue()
    assert "xoxb-1234" not in text and "hunter2" not in text and "AAEhBOweik9" not in text
    assert "メールが送れない" not in text  # a request body is never logged
    assert "redis.example/0" in text  # the rest of the message stays readable


def test_text_logs_and_a_bad_level_or_format() -> None:
    with _capture("text", "DEBUG") as stream:
        logging.getLogger("mail-doctor.test").debug("details")
    assert "DEBUG mail-doctor.test: details" in stream.getvalue()
    with pytest.raises(logs.LogConfigError, match="MAIL_DOCTOR_LOG_LEVEL"):
        logs.configure("LOUD", "json")
    with pytest.raises(logs.LogConfigError, match="MAIL_DOCTOR_LOG_FORMAT"):
        logs.configure("INFO", "xml")
