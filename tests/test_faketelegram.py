"""The fake Telegram Bot API answers the real python-telegram-bot the way Telegram does."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from faketelegram import SECRET_HEADER, FakeTelegram
from telegram import (
    Bot,
    BotCommand,
    ChatMemberAdministrator,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

USER = 5001
GROUP = -1001234567890
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("送れない", callback_data="v:send"),
            InlineKeyboardButton("届かない", callback_data="v:recv"),
        ]
    ]
)


@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="function")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as ptb_bot:
        yield ptb_bot


async def _raw(fake: FakeTelegram, method: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """A plain HTTP request, to see the exact status and body PTB turns into exceptions."""
    token = kwargs.pop("token", fake.token)
    http_method = kwargs.pop("http_method", "POST")
    async with (
        aiohttp.ClientSession() as session,
        session.request(http_method, f"{fake.base_url}{token}/{method}", **kwargs) as resp,
    ):
        return resp.status, json.loads(await resp.text())


# --- Bot methods through python-telegram-bot ---------------------------------------------------


async def test_get_me_through_application(fake: FakeTelegram) -> None:
    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    await app.initialize()  # PTB calls getMe here
    try:
        me = app.bot.bot
        assert (me.id, me.username, me.is_bot) == (123456, "mail_doctor_bot", True)
        assert me.can_read_all_group_messages is False  # privacy mode
        assert app.bot.username == "mail_doctor_bot"
        assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/bot")
        assert [c.method for c in fake.calls] == ["getMe"]
    finally:
        await app.shutdown()


async def test_send_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    first = await bot.send_message(USER, "どちらですか?", reply_markup=KEYBOARD)
    assert isinstance(first, Message)
    assert (first.message_id, first.chat.id, first.chat.type) == (1, USER, "private")
    assert first.from_user is not None and first.from_user.id == bot.id
    assert first.text == "どちらですか?" and first.reply_markup == KEYBOARD
    second = await bot.send_message(USER, "two")
    assert second.message_id == 2 and second.reply_markup is None

    stored = fake.sent(USER)
    assert [m["message_id"] for m in stored] == [1, 2]
    assert stored[0]["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "v:recv"
    params = fake.calls_to("sendMessage")[0].params
    assert params["chat_id"] == USER  # form strings read as their Bot API types
    assert params["reply_markup"]["inline_keyboard"][0][0]["text"] == "送れない"


async def test_callback_data_over_64_bytes_is_rejected(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    too_long = "v:" + "あ" * 21  # 2 + 63 = 65 bytes, though only 23 characters
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=too_long)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(USER, "q", reply_markup=markup)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="v:" + "あ" * 20)]])
    await bot.send_message(USER, "q", reply_markup=fits)
    assert len(fake.sent(USER)) == 1
    assert fake.calls_to("sendMessage")[0].status == 400


async def test_edit_message_text_and_markup(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    sent = await bot.send_message(USER, "質問", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("質問\n→ 送れない", chat_id=USER, message_id=sent.id)
    assert isinstance(edited, Message)
    assert edited.text == "質問\n→ 送れない" and edited.edit_date is not None
    assert edited.reply_markup is None  # no reply_markup in the edit: the keyboard goes
    assert fake.sent(USER)[0]["text"] == "質問\n→ 送れない"

    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("質問\n→ 送れない", chat_id=USER, message_id=sent.id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=99)

    with_keyboard = await bot.edit_message_reply_markup(USER, sent.id, reply_markup=KEYBOARD)
    assert isinstance(with_keyboard, Message) and with_keyboard.reply_markup == KEYBOARD
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(USER, sent.id, reply_markup=KEYBOARD)
    await bot.edit_message_reply_markup(USER, sent.id)
    assert "reply_markup" not in fake.sent(USER)[0]

    person = fake.push_message("hi", USER, USER)
    with pytest.raises(BadRequest, match="can't be edited"):
        await bot.edit_message_text("x", chat_id=USER, message_id=person["message"]["message_id"])


async def test_answer_callback_query(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    sent = await bot.send_message(USER, "質問", reply_markup=KEYBOARD)
    update = fake.push_callback("v:send", USER, USER, sent.id)
    query = Update.de_json(update, bot).callback_query
    assert query is not None and query.data == "v:send"
    assert query.message is not None and query.message.message_id == sent.id
    assert query.from_user.language_code == "ja"

    assert await bot.answer_callback_query(query.id, text="受け付けました") is True
    assert fake.answered(query.id) and fake.answers[0]["text"] == "受け付けました"
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(ValueError, match="no button"):
        fake.push_callback("v:gone", USER, USER, sent.id)
    fake.push_callback("v:gone", USER, USER, sent.id, check=False)  # a stale client


async def test_set_my_commands_per_language(fake: FakeTelegram, bot: Bot) -> None:
    ja = [BotCommand("check", "アドレスを調べる"), BotCommand("help", "使い方")]
    en = [BotCommand("check", "Check an address")]
    assert await bot.set_my_commands(ja, language_code="ja") is True
    assert await bot.set_my_commands(en, language_code="en") is True
    assert await bot.get_my_commands(language_code="ja") == tuple(ja)
    assert await bot.get_my_commands(language_code="en") == tuple(en)
    assert await bot.get_my_commands() == ()  # no fallback between languages
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Check-It", "x")])
    assert fake.commands[('{"type": "default"}', "ja")][0]["command"] == "check"


async def test_delete_message(fake: FakeTelegram, bot: Bot) -> None:
    pasted = fake.push_message("password: hunter2", USER, USER)["message"]["message_id"]
    assert await bot.delete_message(USER, pasted) is True  # incoming, in a private chat
    assert fake.deleted[0]["text"] == "password: hunter2" and fake.messages(USER) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, pasted)

    in_group = fake.push_mention("pw", GROUP, USER, chat_type="supergroup")
    mid = in_group["message"]["message_id"]
    with pytest.raises(BadRequest, match="can't be deleted"):
        await bot.delete_message(GROUP, mid)  # not an admin
    fake.set_admin(GROUP)
    assert await bot.delete_message(GROUP, mid) is True
    assert [c.method for c in fake.calls_to("deleteMessage")] == ["deleteMessage"] * 4


async def test_wrong_token_and_unknown_method(fake: FakeTelegram, bot: Bot) -> None:
    wrong = Bot("999:WRONG-TOKEN", base_url=fake.base_url)
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    await wrong.shutdown()
    assert await _raw(fake, "getMe", token="999:WRONG-TOKEN") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert (await _raw(fake, "getMe", token="garbage"))[0] == 404  # malformed, as Telegram

    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert await _raw(fake, "noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    status, body = await _raw(fake, "GETME", http_method="GET")  # names are case-insensitive
    assert status == 200 and body["result"]["username"] == "mail_doctor_bot"


async def test_flood_control_and_server_errors(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22's future RetryAfter type, no warning
    fake.add_chat(USER)
    fake.fail_next("sendMessage", 429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "x")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert (await bot.send_message(USER, "x")).message_id == 1  # only the next call failed

    fake.fail_next("sendMessage", 429, retry_after=3)
    assert await _raw(fake, "sendMessage", json={"chat_id": USER, "text": "x"}) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    fake.fail_next("sendMessage", 502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "x")
    fake.fail_next("sendMessage", 403)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "x")
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 200, 429, 502, 502, 403]


async def test_polling_application_replies_and_handles_buttons(fake: FakeTelegram) -> None:
    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"受信: {update.effective_message.text}", reply_markup=KEYBOARD, do_quote=True
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"選択: {query.data}")

    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        incoming = fake.push_message("メールが送れない", USER, USER)
        reply = await fake.wait_for(lambda f: f.sent(USER), timeout=5)
        assert reply[0]["text"] == "受信: メールが送れない"
        assert reply[0]["reply_to_message"]["message_id"] == incoming["message"]["message_id"]

        fake.push_callback("v:send", USER, USER, reply[0]["message_id"])
        await fake.wait_for(lambda f: f.sent(USER)[0]["text"] == "選択: v:send", timeout=5)
        assert fake.answers and "reply_markup" not in fake.sent(USER)[0]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert fake.pending_updates == []  # PTB confirmed both updates with its last offset
    offsets = [c.params.get("offset") for c in fake.calls_to("getUpdates")]
    assert offsets[-1] == incoming["update_id"] + 2
    assert fake.calls_to("deleteWebhook")  # start_polling's bootstrap


async def test_get_updates_long_polling(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()
    started = time.monotonic()
    assert await _raw(fake, "getUpdates", json={"timeout": 0.3}) == (
        200,
        {"ok": True, "result": []},
    )
    assert 0.25 < time.monotonic() - started < 1  # waited for the timeout, no longer

    started = time.monotonic()

    async def push_later() -> None:
        await asyncio.sleep(0.2)
        fake.push_message("late", USER, USER)

    pusher = asyncio.create_task(push_later())
    updates = await bot.get_updates(timeout=5)  # returns as soon as the update is queued
    await pusher
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["late"]

    again = await bot.get_updates(offset=updates[0].update_id)  # not confirmed yet
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1) == ()
    assert fake.pending_updates == []

    for text in ("a", "b", "c"):
        fake.push_message(text, USER, USER)
    last = await bot.get_updates(offset=-1)  # negative offset: the last update only
    assert [u.message.text for u in last if u.message] == ["c"]


async def test_a_second_poller_ends_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)  # the first request is waiting in the fake
    async with Bot(fake.token, base_url=fake.base_url) as replica:  # a second instance
        assert await replica.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_webhook_methods_and_delivery(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("http://bot.example/telegram/webhook")
    assert await bot.set_webhook("https://bot.example/telegram/webhook", secret_token="s3cr-et")
    info = await bot.get_webhook_info()
    assert info.url == "https://bot.example/telegram/webhook" and info.pending_update_count == 0
    fake.push_message("queued", USER, USER)
    assert (await bot.get_webhook_info()).pending_update_count == 1
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cr-et"

    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/telegram/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram/webhook"
        update = fake.push_message("こんにちは", USER, USER)
        assert await fake.post_webhook(url, update, "s3cr-et") == (200, "ok")
        assert await fake.post_webhook(url, update, None) == (200, "ok")
    finally:
        await runner.cleanup()
    assert received == [("s3cr-et", update), (None, update)]
    assert Update.de_json(received[0][1], bot).effective_message.text == "こんにちは"  # type: ignore[union-attr]

    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == "" and fake.pending_updates == []


async def test_groups_privacy_mode_commands_and_topics(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(GROUP, chat_type="supergroup", title="Helpdesk")
    chatter = fake.push_message("雑談", GROUP, USER, chat_type="supergroup")
    assert fake.withheld[-1] == chatter and fake.pending_updates == []  # privacy mode

    mention = fake.push_mention("送れない", GROUP, USER, chat_type="supergroup")
    msg = Update.de_json(mention, bot).effective_message
    assert msg is not None and msg.text == "@mail_doctor_bot 送れない"
    assert msg.entities[0].type == "mention" and msg.entities[0].offset == 0

    command = fake.push_command("/check taro@example.jp", GROUP, USER, chat_type="supergroup")
    cmd = Update.de_json(command, bot)
    assert cmd.effective_message is not None
    assert cmd.effective_message.text == "/check@mail_doctor_bot taro@example.jp"
    assert [e.type for e in cmd.effective_message.entities] == ["bot_command", "email"]
    assert filters.COMMAND.check_update(cmd)
    other_bot = fake.push_message("/check@other_bot x", GROUP, USER, chat_type="supergroup")
    assert fake.withheld[-1] == other_bot

    answer = await bot.send_message(GROUP, "どうしましたか?")
    reply = fake.push_message(
        "受信できない", GROUP, USER, chat_type="supergroup", reply_to_bot_message_id=answer.id
    )
    assert Update.de_json(reply, bot).effective_message.reply_to_message.from_user.id == bot.id  # type: ignore[union-attr]
    assert [u["update_id"] for u in fake.pending_updates] == [
        mention["update_id"],
        command["update_id"],
        reply["update_id"],
    ]

    topic = fake.push_mention("ヘルプ", GROUP, USER, chat_type="supergroup", message_thread_id=77)
    in_topic = Update.de_json(topic, bot).effective_message
    assert in_topic is not None and in_topic.is_topic_message and in_topic.message_thread_id == 77
    root = in_topic.reply_to_message  # Telegram: the topic's root, not a reply to the bot
    assert root is not None and root.forum_topic_created is not None
    assert in_topic.chat.is_forum
    sent = await bot.send_message(GROUP, "トピック内", message_thread_id=77)
    assert sent.message_thread_id == 77 and sent.is_topic_message
    assert [m["text"] for m in fake.sent(GROUP, thread_id=77)] == ["トピック内"]
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(GROUP, "x", message_thread_id=78)

    fake.set_admin(GROUP)  # an admin bot sees everything
    fake.push_message("雑談2", GROUP, USER, chat_type="supergroup")
    assert fake.pending_updates[-1]["message"]["text"] == "雑談2"


async def test_parse_modes_are_checked(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(USER)
    ok = await bot.send_message(USER, "<b>宛先</b>: taro@example.jp", parse_mode=ParseMode.HTML)
    assert ok.text == "宛先: taro@example.jp"
    assert [(e.type, e.offset, e.length) for e in ok.entities] == [
        ("bold", 0, 2),
        ("email", 4, 15),
    ]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(USER, "From: <taro@example.jp>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(USER, "*ok* example.jp", parse_mode=ParseMode.MARKDOWN_V2)
    escaped = await bot.send_message(USER, r"*ok* example\.jp", parse_mode=ParseMode.MARKDOWN_V2)
    assert escaped.text == "ok example.jp"
    stored = fake.sent(USER)
    assert [m["parse_mode"] for m in stored] == ["HTML", "MarkdownV2"]
    assert stored[1]["raw_text"] == r"*ok* example\.jp"
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "あ" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, " ")


async def test_chat_members_actions_and_unknown_chats(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(GROUP, chat_type="supergroup", creator_id=USER)
    member = await bot.get_chat_member(GROUP, bot.id)
    assert isinstance(member, ChatMemberMember)
    fake.set_admin(GROUP)
    admin = await bot.get_chat_member(GROUP, bot.id)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages
    admins = await bot.get_chat_administrators(GROUP)
    assert [(m.status, m.user.id) for m in admins] == [("creator", USER), ("administrator", bot.id)]
    fake.add_chat(USER)
    with pytest.raises(BadRequest, match="no administrators in the private chat"):
        await bot.get_chat_administrators(USER)

    assert await bot.send_chat_action(USER, ChatAction.TYPING) is True
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "x")
    fake.blocked.add(USER)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(USER, "x")


async def test_json_form_multipart_and_query_bodies(fake: FakeTelegram) -> None:
    fake.add_chat(USER)
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": "v:a"}]]}
    status, body = await _raw(
        fake, "sendMessage", json={"chat_id": USER, "text": "json", "reply_markup": markup}
    )
    assert status == 200 and body["result"]["reply_markup"] == markup
    form = {"chat_id": str(USER), "text": "form", "reply_markup": json.dumps(markup)}
    status, body = await _raw(fake, "sendMessage", data=form)
    assert status == 200 and body["result"]["reply_markup"] == markup
    multipart = aiohttp.FormData({"chat_id": str(USER), "text": "multipart"})
    multipart.add_field("document", b"data", filename="report.txt")
    status, body = await _raw(fake, "sendMessage", data=multipart)
    assert status == 200 and body["result"]["text"] == "multipart"
    status, body = await _raw(fake, "sendMessage", params={"chat_id": USER, "text": "query"})
    assert status == 200 and body["result"]["message_id"] == 4
    assert fake.calls_to("sendMessage")[2].params["document"] == "report.txt"
    status, body = await _raw(fake, "sendMessage", data={"chat_id": "x", "reply_markup": "{"})
    assert status == 400 and "can't parse reply keyboard markup" in body["description"]


async def test_wait_for_times_out_with_a_dump(fake: FakeTelegram, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(AssertionError, match=r"(?s)not met within 0\.1s.*getMe \[200 ok\]"):
        await fake.wait_for(lambda: fake.sent(), timeout=0.1)
