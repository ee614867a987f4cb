"""The Telegram adapter: the real python-telegram-bot against the fake Bot API, diagnoses against
the real test mail servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from faketelegram import FakeTelegram
from served import serve_app, telegram_webhook_env

from adapters.telegram import TelegramAdapter, TelegramSettings
from bot.storage import SQLiteStore
from conversations.dialogue import Dialogue

CHAT = 5001


@pytest_asyncio.fixture(loop_scope="function")
async def tg(
    mail_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FakeTelegram, TelegramAdapter]]:
    monkeypatch.setenv("MAIL_DOCTOR_CHECK_TIMEOUT", "5")
    async with FakeTelegram() as fake:
        store = SQLiteStore(tmp_path / "state.db")
        adapter = TelegramAdapter(
            TelegramSettings(
                token=fake.token if hasattr(fake, "token") else "123456:TEST-TOKEN",
                base_url=fake.base_url,
            ),
            Dialogue(store),
            store.claim_event,
        )
        await adapter.start(polling=True)
        try:
            yield fake, adapter
        finally:
            await adapter.stop()
            await store.close()


def texts(fake: FakeTelegram, chat: int = CHAT) -> str:
    return "\n".join(m.get("text", "") for m in fake.sent(chat_id=chat))


async def say(fake: FakeTelegram, text: str, chat: int = CHAT, user: int = CHAT, **kw: Any) -> None:
    before = len(fake.sent(chat_id=chat))
    fake.push_message(text, chat, user, **kw)
    await fake.wait_for(lambda f: len(f.sent(chat_id=chat)) > before, timeout=20)


async def test_a_private_conversation_with_buttons_to_a_diagnosis(
    tg: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, _ = tg
    await say(fake, "メールが送れない")
    question = fake.sent(chat_id=CHAT)[-1]
    keyboard = question["reply_markup"]["inline_keyboard"]
    values = [b["callback_data"] for row in keyboard for b in row]
    assert values == ["v:yes", "v:no"]
    fake.push_callback("v:yes", CHAT, CHAT, question["message_id"])
    await fake.wait_for(lambda f: "メールアドレス" in texts(f), timeout=20)
    assert fake.calls_to("answerCallbackQuery")  # the button does not spin forever
    edited = fake.message(CHAT, question["message_id"])
    assert "開ける" in edited["text"] and not edited.get(
        "reply_markup"
    )  # choice shown, keyboard gone
    for text in ("taro@good.test", "Thunderbird", "SMTPは mail.good.test、ポート587、SSL"):
        await say(fake, text)
    await fake.wait_for(lambda f: "STARTTLS" in texts(f) and "465" in texts(f), timeout=30)


async def test_commands_are_registered_in_both_languages(
    tg: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, _ = tg
    languages = {c.params.get("language_code") for c in fake.calls_to("setMyCommands")}
    assert languages == {"ja", "en"}


async def test_a_pasted_password_is_deleted_and_not_repeated(
    tg: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, _ = tg
    await say(fake, "メールが送れない")
    await say(fake, "パスワードは Secret123abc です")
    assert fake.calls_to("deleteMessage")
    assert "Secret123abc" not in texts(fake)
    assert "パスワードは送らないでください" in texts(fake)


async def test_rate_limits_are_waited_out(tg: tuple[FakeTelegram, TelegramAdapter]) -> None:
    fake, _ = tg
    fake.fail_next("sendMessage", 429, retry_after=1)
    await say(fake, "メールが送れない", chat=5002, user=5002)
    assert "ウェブサイト" in texts(fake, 5002)  # delivered after the wait
    assert len(fake.calls_to("sendMessage")) >= 2  # the refused attempt, then the delivered one


async def test_in_a_group_each_person_has_their_own_conversation(
    tg: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    fake, _ = tg
    group = -100200
    fake.add_chat(group, chat_type="supergroup", title="helpdesk")
    fake.push_command("/check taro@good.test", group, 7001, chat_type="supergroup")
    await fake.wait_for(lambda f: f.sent(chat_id=group), timeout=20)
    first = len(fake.sent(chat_id=group))
    assert first
    fake.push_mention("メールが受信できません", group, 7002, chat_type="supergroup")
    # A new case for the second person, at its own first step.
    await fake.wait_for(
        lambda f: any("ウェブサイト" in m.get("text", "") for m in f.sent(chat_id=group)),
        timeout=20,
    )


async def test_webhook_with_a_wrong_secret_gets_403(mail_env: Any, tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        store = SQLiteStore(tmp_path / "state.db")
        try:
            async with serve_app(store, telegram_webhook_env(fake, "s3cret-token")) as served:
                assert isinstance(served.adapters[0], TelegramAdapter)
                url = f"{served.url}/telegram/webhook"
                assert fake.webhook  # setWebhook was called with the secret
                update = fake.push_message("メールが送れない", CHAT, CHAT)
                status, _ = await fake.post_webhook(url, update, "wrong")
                assert status == 403
                status, _ = await fake.post_webhook(url, update, None)
                assert status == 403
                status, _ = await fake.post_webhook(url, update, "s3cret-token")
                assert status == 200
                await fake.wait_for(lambda f: f.sent(chat_id=CHAT), timeout=20)
                before = len(fake.sent(chat_id=CHAT))
                await fake.post_webhook(url, update, "s3cret-token")  # the same update again
                await fake.wait_for(lambda f: True)
                assert len(fake.sent(chat_id=CHAT)) == before
        finally:
            await store.close()


async def test_a_slow_probe_in_one_chat_does_not_hold_up_another(
    tg: tuple[FakeTelegram, TelegramAdapter],
) -> None:
    import time

    fake, _ = tg
    slow, quick = 6001, 6002
    for text in ("メールが送れない", "はい", "taro@firewalled.test", "Thunderbird"):
        await say(fake, text, chat=slow, user=slow)
    fake.push_message("mail.firewalled.test 587 STARTTLS", slow, slow)  # a dropped port: 5 s
    started = time.monotonic()
    await fake.wait_for(lambda f: "調べています" in texts(f, slow), timeout=20)
    await say(fake, "受信できません", chat=quick, user=quick)
    assert time.monotonic() - started < 3  # answered while the other chat's check still runs
    assert "診断" not in texts(fake, quick)
    await fake.wait_for(
        lambda f: "firewall" in texts(f, slow).lower() or "ファイアウォール" in texts(f, slow),
        timeout=30,
    )
