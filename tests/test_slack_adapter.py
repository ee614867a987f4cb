"""The Slack adapter: the real slack-bolt and slack_sdk against the fake Slack Web API, with signed
requests to the bot's real HTTP endpoint, and diagnoses against the real test mail servers."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fakeslack import FakeSlack
from fakeslack.events import (
    app_mention_event,
    block_action,
    message_event,
    post_to_app,
    slash_command,
)
from served import serve_app, slack_env

from bot.serve import build_app
from bot.storage import SQLiteStore

SECRET = "test-signing-secret"
_ts = itertools.count(1)


@dataclass
class Bot:
    url: str
    fake: FakeSlack
    adapter: Any

    async def send(self, payload: dict[str, Any] | bytes, **kw: Any) -> int:
        status, _, _ = await post_to_app(f"{self.url}/slack/events", payload, None, SECRET, **kw)
        await self.adapter.drain()
        return status

    async def say(
        self, text: str, channel: str = "D1", user: str = "U1", thread_ts: str | None = None
    ) -> str:
        ts = f"1700001000.{next(_ts):06d}"
        await self.send(message_event(text, channel, user, ts, thread_ts=thread_ts))
        return ts

    def replies(self, channel: str = "D1", thread_ts: str | None = None) -> list[dict[str, Any]]:
        return self.fake.posted(channel=channel, thread_ts=thread_ts)

    def last_text(self, channel: str = "D1", thread_ts: str | None = None) -> str:
        return "\n".join(m.get("text", "") for m in self.replies(channel, thread_ts)[-3:])


@pytest_asyncio.fixture(loop_scope="function")
async def bot(mail_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    monkeypatch.setenv("MAIL_DOCTOR_CHECK_TIMEOUT", "5")
    async with FakeSlack() as fake:
        store = SQLiteStore(tmp_path / "state.db")
        try:
            env = slack_env(fake, SECRET, SLACK_ESCALATION_CHANNEL="CHELP")
            async with serve_app(store, env) as served:
                yield Bot(served.url, fake, served.adapters[0])
        finally:
            await store.close()


async def test_a_dm_conversation_to_a_correct_diagnosis(bot: Bot) -> None:
    await bot.say("メールが送れない")
    assert "ウェブサイト" in bot.last_text()
    for text in (
        "はい",
        "<mailto:taro@good.test|taro@good.test>",
        "Thunderbird",
        "SMTPは mail.good.test、ポート587、SSL",
    ):
        await bot.say(text)
    everything = "\n".join(m.get("text", "") for m in bot.replies())
    assert "STARTTLS" in everything and "465" in everything
    steps = [m["metadata"]["event_payload"]["step"] for m in bot.replies() if m.get("metadata")]
    assert steps[-1] == "ask_resolved" and "diagnosis" in steps
    assert all(m["metadata"]["event_type"] == "mail_doctor_step" for m in bot.replies())


async def test_choices_are_buttons_and_a_click_answers_once(bot: Bot) -> None:
    await bot.say("I can't send mail")
    question = bot.replies()[-1]
    buttons = next(b for b in question["blocks"] if b["type"] == "actions")["elements"]
    assert {b["value"] for b in buttons} == {"yes", "no"}
    click = block_action(
        buttons[0]["action_id"], "yes", "D1", question["ts"], "U1", message=question
    )
    assert await bot.send(click) == 200
    updated = bot.fake.message("D1", question["ts"])
    assert not [b for b in updated["blocks"] if b["type"] == "actions"]  # the old buttons are gone
    assert "メールアドレス" in bot.last_text()  # the workspace user's locale is Japanese
    before = len(bot.replies())
    await bot.send(click)  # a second click on the same question
    assert len(bot.replies()) == before


async def test_two_threads_in_a_channel_are_two_cases(bot: Bot) -> None:
    root_a = f"1700002000.{next(_ts):06d}"
    root_b = f"1700002000.{next(_ts):06d}"
    await bot.send(app_mention_event("メールが送れないです", "C1", "UA", root_a))
    await bot.send(app_mention_event("受信できません", "C1", "UB", root_b))
    assert "ウェブサイト" in bot.last_text("C1", root_a)
    assert "ウェブサイト" in bot.last_text("C1", root_b)
    # Later messages in a case thread need no mention; each thread goes on with its own case.
    await bot.say("はい", channel="C1", user="UA", thread_ts=root_a)
    await bot.say("いいえ", channel="C1", user="UB", thread_ts=root_b)
    assert "メールアドレス" in bot.last_text("C1", root_a)
    assert "ルーター" in bot.last_text("C1", root_b)
    # A channel message that is not about mail, outside any case, is left alone.
    before = len(bot.fake.calls_to("chat.postMessage"))
    await bot.say("今日のランチどうする?", channel="C1", user="UC")
    assert len(bot.fake.calls_to("chat.postMessage")) == before


async def test_retries_and_double_delivery_give_one_reply(bot: Bot) -> None:
    ts = f"1700003000.{next(_ts):06d}"
    event = message_event("<@UBOT> メールが送れない", "C2", "U1", ts, channel_type="channel")
    mention = app_mention_event("メールが送れない", "C2", "U1", ts)
    await bot.send(event)
    await bot.send(mention)  # the same post, delivered as app_mention too
    await bot.send(event, retry_num=1)  # and Slack's retry
    assert len(bot.replies("C2", ts)) == 1


async def test_a_bad_signature_is_refused_and_does_nothing(bot: Bot) -> None:
    status = await bot.send(
        message_event("メールが送れない", "D9", "U1", "1700004000.000001"), bad_signature=True
    )
    assert status == 401
    assert not bot.fake.calls_to("chat.postMessage")


async def test_the_slash_command_opens_a_case_in_a_new_thread(bot: Bot) -> None:
    await bot.send(slash_command("/mail-doctor", "taro@good.test", channel="C3", user="U1"))
    root = bot.fake.posted(channel="C3")[0]
    replies = bot.replies("C3", root["ts"])
    assert replies and replies[0]["thread_ts"] == root["ts"]


async def test_escalation_posts_the_summary_to_the_helpdesk(bot: Bot) -> None:
    opening = bot.fake.app_mention_event("メールが送れない", "C4", "U1")
    root = opening["event"]["ts"]
    await bot.send(opening)
    await bot.say("担当者と話したい", channel="C4", thread_ts=root)
    helpdesk = bot.fake.posted(channel="CHELP")
    assert helpdesk and "MD-" in helpdesk[0]["text"]
    assert "fake.slack/archives/C4" in helpdesk[0]["text"]


async def test_a_rate_limited_post_is_retried_and_delivered(bot: Bot) -> None:
    bot.fake.fail_next("chat.postMessage", 429, retry_after=1)
    await bot.say("メールが送れない", channel="D5")
    assert bot.replies("D5")


async def test_people_cannot_make_the_bot_ping_the_channel(bot: Bot) -> None:
    await bot.say("メールが送れない", channel="D6")
    await bot.say("はい", channel="D6")
    await bot.say("<!channel> です", channel="D6")
    for message in bot.replies("D6"):
        assert "<!channel>" not in message.get("text", "")


@pytest.mark.parametrize("lang_locale", [("en-US", "web sites")])
async def test_the_language_follows_the_slack_locale(
    bot: Bot, lang_locale: tuple[str, str]
) -> None:
    locale, words = lang_locale
    bot.fake.add_user("UEN", locale=locale)
    await bot.say("I can't send email", channel="D7", user="UEN")
    assert words in bot.last_text("D7")


async def test_after_a_hand_off_the_bot_is_quiet_until_resumed(bot: Bot) -> None:
    opening = bot.fake.app_mention_event("メールが送れない", "C8", "U1")
    root = opening["event"]["ts"]
    await bot.send(opening)
    question = bot.replies("C8", root)[-1]
    await bot.say("担当者と話したい", channel="C8", thread_ts=root)
    before = len(bot.replies("C8", root))
    await bot.say("サーバーの設定を確認しますね", channel="C8", user="UHELP", thread_ts=root)
    assert len(bot.replies("C8", root)) == before  # the person handling it talks undisturbed
    await bot.say("<@UBOT> resume", channel="C8", user="UHELP", thread_ts=root)
    assert "再開します" in bot.last_text("C8", root)
    assert question["metadata"]["event_payload"]["step"] == "ask_connectivity"


async def test_the_escalate_button_hands_the_case_over(bot: Bot) -> None:
    await bot.say("メールが送れない", channel="D9")
    for text in ("はい", "taro@good.test", "Thunderbird", "mail.good.test 587 STARTTLS"):
        await bot.say(text, channel="D9")
    question = bot.replies("D9")[-1]
    assert question["metadata"]["event_payload"]["step"] == "ask_resolved"
    buttons = next(b for b in question["blocks"] if b["type"] == "actions")["elements"]
    escalate = next(b for b in buttons if b["value"] == "escalate")
    await bot.send(
        block_action(
            escalate["action_id"], "escalate", "D9", question["ts"], "U1", message=question
        )
    )
    assert bot.fake.posted(channel="CHELP")


async def test_socket_mode_receives_an_event_and_answers(mail_env: Any, tmp_path: Path) -> None:
    import asyncio

    from fakeslack.socket_mode import FakeSocketMode
    from slack_sdk.web.async_client import AsyncWebClient

    async with FakeSlack() as fake, FakeSocketMode() as sockets:
        store = SQLiteStore(tmp_path / "state.db")
        env = {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_APP_TOKEN": sockets.app_token,
            "SLACK_API_URL": fake.base_url,
        }
        _, adapters = build_app(store, env)
        adapter = adapters[0]
        handler = adapter.socket_mode(
            AsyncWebClient(token=sockets.app_token, base_url=sockets.base_url)
        )
        await handler.connect_async()
        try:
            envelope = sockets.push_event(
                message_event("メールが送れない", "D1", "U1", "1700006000.000001")
            )
            await fake.wait_for(lambda f: f.posted(channel="D1"))
            await adapter.drain()
            assert "ウェブサイト" in fake.posted(channel="D1")[-1]["text"]
            for _ in range(100):
                if any(a.get("envelope_id") == envelope for a in sockets.acks):
                    break
                await asyncio.sleep(0.05)
            assert any(a.get("envelope_id") == envelope for a in sockets.acks)  # acknowledged
        finally:
            await handler.close_async()
            await store.close()


async def test_a_person_closes_a_handed_over_case(bot: Bot) -> None:
    opening = bot.fake.app_mention_event("受信できません", "C10", "U1")
    root = opening["event"]["ts"]
    await bot.send(opening)
    await bot.say("担当者お願いします", channel="C10", thread_ts=root)
    await bot.say("<@UBOT> 解決しました", channel="C10", user="UHELP", thread_ts=root)
    steps = [m["metadata"]["event_payload"]["step"] for m in bot.replies("C10", root)]
    assert steps[-1] == "closed"


async def test_a_button_from_an_earlier_question_does_nothing(bot: Bot) -> None:
    await bot.say("メールが送れない", channel="D11")
    old_question = bot.replies("D11")[-1]  # 「ほかのウェブサイトは開けますか」 with buttons
    await bot.say("はい", channel="D11")  # answered by typing instead
    await bot.say("taro@good.test", channel="D11")
    before = len(bot.replies("D11"))
    buttons = next(b for b in old_question["blocks"] if b["type"] == "actions")
    yes = buttons["elements"][0]
    await bot.send(
        block_action(yes["action_id"], "yes", "D11", old_question["ts"], "U1", message=old_question)
    )
    assert len(bot.replies("D11")) == before  # nothing answered on the current step's behalf
    stale = bot.fake.message("D11", old_question["ts"])
    assert not [b for b in stale["blocks"] if b["type"] == "actions"]


async def test_the_slash_command_in_a_dm_continues_the_dm(bot: Bot) -> None:
    await bot.send(slash_command("/mail-doctor", "", channel="D12", user="U1"))
    await bot.say("メールが送れない", channel="D12")
    steps = [m["metadata"]["event_payload"]["step"] for m in bot.replies("D12")]
    assert steps[-1] == "ask_connectivity"
    assert all(m.get("thread_ts") is None for m in bot.replies("D12"))


async def test_every_message_names_its_case(bot: Bot) -> None:
    await bot.say("メールが送れない", channel="D13")
    await bot.say("はい", channel="D13")
    cases = {m["metadata"]["event_payload"]["case_id"] for m in bot.replies("D13")}
    assert len(cases) == 1 and next(iter(cases)).startswith("MD-")


def test_serve_without_a_platform_says_what_to_set(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        capture_output=True,
        text=True,
        env={**env, "MAIL_DOCTOR_STORE": f"sqlite:///{tmp_path}/s.db"},
        timeout=30,
    )
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in done.stderr and "Traceback" not in done.stderr
