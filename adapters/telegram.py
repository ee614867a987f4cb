"""Telegram, on python-telegram-bot: private chats and groups, inline keyboards, polling or webhook.

Like the Slack adapter it only translates: updates become neutral Inbound events, the dialogue's
Outbound messages become sendMessage / editMessageText calls. The dialogue's state lives in the
project's store (not in python-telegram-bot's ConversationHandler persistence, which cannot be
shared between processes), so a restart or a second instance loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.delivery import with_backoff
from adapters.observing import ApiEvents, Unwatched
from adapters.text import inert
from conversations.events import Choice, ConversationKey, Inbound, Outbound, Undelivered

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "v:"  # callback_data is "v:<choice value>", well within Telegram's 64 bytes
COMMANDS = {
    "ja": [
        ("start", "メールの相談を始める"),
        ("check", "アドレスを指定して調べる(/check taro@example.jp)"),
        ("help", "使い方"),
        ("lang", "言語を切り替える"),
        ("reset", "最初からやり直す"),
    ],
    "en": [
        ("start", "Start a mail case"),
        ("check", "Check an address (/check taro@example.com)"),
        ("help", "How to use mail-doctor"),
        ("lang", "Switch language"),
        ("reset", "Start over"),
    ],
}
# The dialogue understands these words in both languages; a command becomes one of them.
_COMMAND_TEXT = {"start": None, "help": "help", "lang": "switch language", "reset": "start over"}


class Dialogue(Protocol):
    async def handle(self, event: Inbound, send: Callable[[Outbound], Awaitable[None]]) -> None: ...


@dataclass
class TelegramSettings:
    token: str
    base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    api_timeout: float = 10.0  # seconds one Bot API call may take
    delivery_deadline: float = 60.0  # seconds a reply is retried while Telegram is down


@dataclass
class _Chat:
    chat_id: int
    thread_id: int | None
    refs: dict[str, int] = field(default_factory=dict)  # Outbound.ref -> message_id
    last_inbound: int | None = None  # the person's last message, for deleting a pasted password


class TelegramAdapter:
    def __init__(
        self,
        settings: TelegramSettings,
        dialogue: Dialogue,
        claim: Callable[[str], Awaitable[bool]],
        events: ApiEvents | None = None,
    ) -> None:
        self.settings = settings
        self.events: ApiEvents = events or Unwatched()
        self.dialogue = dialogue
        self.claim = claim
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.token)
            .base_url(settings.base_url)
            .connect_timeout(settings.api_timeout)
            .read_timeout(settings.api_timeout)
            .write_timeout(settings.api_timeout)
            .concurrent_updates(True)  # one chat's long probe never holds up another chat
            .build()
        )
        self._chats: dict[str, _Chat] = {}
        self._username: str | None = None
        self.app.add_handler(CommandHandler([*list(_COMMAND_TEXT), "check"], self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self._on_message))

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, *, polling: bool) -> None:
        await self.app.initialize()
        self._username = self.app.bot.username
        for lang, commands in COMMANDS.items():
            await self.app.bot.set_my_commands(
                [BotCommand(name, text) for name, text in commands], language_code=lang
            )
        await self.app.start()
        if polling:
            assert self.app.updater is not None
            await self.app.updater.start_polling(poll_interval=0.0, timeout=10)
        elif self.settings.webhook_url:
            await self.app.bot.set_webhook(
                self.settings.webhook_url, secret_token=self.settings.webhook_secret
            )

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def process_webhook(self, payload: dict[str, Any], secret: str | None) -> int:
        """An update posted to /telegram/webhook: 403 unless the secret header matches."""
        if self.settings.webhook_secret and secret != self.settings.webhook_secret:
            return 403
        update = Update.de_json(payload, self.app.bot)
        if update is not None:
            await self.app.update_queue.put(update)
        return 200

    # -- updates -----------------------------------------------------------------------------------

    def _key(self, update: Update) -> tuple[ConversationKey, _Chat] | None:
        chat, user = update.effective_chat, update.effective_user
        message = update.effective_message
        if chat is None or user is None:
            return None
        thread = message.message_thread_id if message and message.is_topic_message else None
        # One conversation per person per chat, and per topic in forum groups.
        key = ConversationKey(
            "telegram", str(self.app.bot.id), str(chat.id), str(thread or 0), str(user.id)
        )
        state = self._chats.setdefault(str(key), _Chat(chat.id, thread))
        return key, state

    def _addressed_to_bot(self, update: Update) -> bool:
        """In groups (privacy mode on) the bot answers mentions and replies to its own messages."""
        message = update.effective_message
        chat = update.effective_chat
        if chat is None or message is None or chat.type == ChatType.PRIVATE:
            return True
        reply = message.reply_to_message
        if (
            reply is not None
            and reply.from_user is not None
            and reply.from_user.id == self.app.bot.id
        ):
            return True
        return bool(self._username) and f"@{self._username}".lower() in (message.text or "").lower()

    async def _fresh(self, update: Update) -> bool:
        return await self.claim(f"tg:update:{update.update_id}")

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._fresh(update) or not self._addressed_to_bot(update):
            return
        found = self._key(update)
        message = update.effective_message
        if found is None or message is None:
            return
        key, chat = found
        chat.last_inbound = message.message_id
        text = (message.text or "").replace(f"@{self._username}", "").strip()
        await self._dispatch(key, update, text=text)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._fresh(update):
            return
        found = self._key(update)
        message = update.effective_message
        if found is None or message is None or not message.text:
            return
        key, _chat = found
        command = message.text.split()[0].lstrip("/").split("@")[0]
        rest = " ".join(message.text.split()[1:])
        text = rest if command == "check" and rest else (_COMMAND_TEXT.get(command) or "help")
        await self._dispatch(key, update, text=text)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()  # every callback is answered, or the button spins on the phone
        if not await self._fresh(update) or not (query.data or "").startswith(CALLBACK_PREFIX):
            return
        found = self._key(update)
        if found is None:
            return
        key, _ = found
        value = (query.data or "")[len(CALLBACK_PREFIX) :]
        label = next(
            (
                b.text
                for row in _keyboard(query.message)
                for b in row
                if b.callback_data == query.data
            ),
            value,
        )
        original = getattr(query.message, "text", "") or ""
        try:  # show the choice and drop the keyboard, so an old button cannot be used again
            await query.edit_message_text(_text(f"{original}\n→ {label}"))
        except BadRequest as exc:
            log.info("telegram: could not edit the question: %s", exc.message)
        await self._dispatch(key, update, value=value)

    async def _dispatch(
        self,
        key: ConversationKey,
        update: Update,
        *,
        text: str | None = None,
        value: str | None = None,
    ) -> None:
        user = update.effective_user
        locale = user.language_code if user else None
        inbound = Inbound(
            key, text=text, value=value, event_id=f"tg:{update.update_id}", locale=locale
        )
        await self.dialogue.handle(inbound, self._send)

    # -- outbound ----------------------------------------------------------------------------------

    def sender(self, key: ConversationKey) -> Callable[[Outbound], Awaitable[None]] | None:
        """How to reply in `key`'s conversation (for work another replica left unfinished)."""
        ours = key.platform == "telegram" and key.workspace == str(self.app.bot.id)
        return self._send if ours else None

    def _chat(self, key: str) -> _Chat | None:
        """Where replies for `key` go: known from the update, or read from the key itself."""
        if key not in self._chats:
            parsed = ConversationKey.parse(key)
            if parsed is None or parsed.platform != "telegram":
                return None
            try:
                chat_id, topic = int(parsed.channel), int(parsed.thread)
            except ValueError:
                return None
            self._chats[key] = _Chat(chat_id, topic or None)
        return self._chats[key]

    async def _send(self, out: Outbound) -> None:
        chat = self._chat(out.thread)
        if chat is None:
            log.error("telegram: no chat known for %s; message dropped", out.thread)
            return
        if out.kind == "retract":
            await self._delete_inbound(chat)
            return
        markup = _markup(out.choices)
        target = chat.refs.get(out.replaces) if out.replaces else None
        text = _text(out.text)

        async def deliver() -> int | None:
            if target is not None:
                await self.app.bot.edit_message_text(
                    text, chat_id=chat.chat_id, message_id=target, reply_markup=markup
                )
                return None
            message = await self.app.bot.send_message(
                chat.chat_id,
                text,
                reply_markup=markup,
                message_thread_id=chat.thread_id,
            )
            return int(message.message_id)

        try:
            sent = await with_backoff(
                deliver,
                _retry_reason,
                deadline=self.settings.delivery_deadline,
                on_retry=lambda reason: self.events.api_retry("telegram", reason),
            )
        except Undelivered as exc:
            error = exc.__cause__
            if isinstance(error, BadRequest) and "not modified" in error.message.lower():
                return  # an edit to the same text: nothing to deliver
            self.events.api_error("telegram", type(error).__name__ if error else "undelivered")
            log.error(
                "telegram: case %s: a %s could not be delivered: %s", out.case_id, out.kind, exc
            )
            raise
        name = out.ref or out.replaces
        if name and sent is not None:
            chat.refs[name] = sent

    async def _delete_inbound(self, chat: _Chat) -> None:
        if chat.last_inbound is None:
            return
        try:
            await self.app.bot.delete_message(chat.chat_id, chat.last_inbound)
        except (BadRequest, Forbidden) as exc:  # not an admin in this group, or too old
            log.info("telegram: could not delete a pasted password: %s", exc)


def _retry_reason(exc: BaseException) -> tuple[str, float | None] | None:
    """Whether a failed Bot API call is worth another try (PTB raises NetworkError for 5xx
    and connection failures, TimedOut for timeouts), why, and the wait Telegram asked for."""
    if isinstance(exc, RetryAfter):
        return "rate_limited", _seconds(exc.retry_after)
    if isinstance(exc, TimedOut):
        return "timeout", None
    if isinstance(exc, NetworkError):
        return "server_error", None
    return None  # BadRequest, Forbidden (blocked by the person), …: final


# Telegram's limit on a message's text, in UTF-16 code units (an emoji counts two).
MAX_TEXT = 4096


def _text(text: str) -> str:
    """A message's text as it is sent: always plain text (no parse_mode, so no HTML or Markdown
    that someone typed can format it), never a mention that notifies someone ("@" starting a
    word gets an invisible word joiner after it), never blank, printable (a lone surrogate
    becomes U+FFFD), and cut to Telegram's limit.
    """
    text = inert(text)
    if not text.strip():
        return "…"
    if len(text.encode("utf-16-le")) <= 2 * MAX_TEXT:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > MAX_TEXT - 1:
            return text[:index] + "…"
    return text


def _seconds(delay: Any) -> float:
    return float(delay.total_seconds()) if hasattr(delay, "total_seconds") else float(delay)


def _keyboard(message: Any) -> list[list[InlineKeyboardButton]]:
    markup = getattr(message, "reply_markup", None)
    return [list(row) for row in markup.inline_keyboard] if markup else []


def _markup(choices: list[Choice]) -> InlineKeyboardMarkup | None:
    if not choices:
        return None
    # Telegram's limit is 64 bytes of callback_data; choice values are short ASCII ids.
    buttons = [
        InlineKeyboardButton(c.label[:64], callback_data=CALLBACK_PREFIX + c.value)
        for c in choices
        if len((CALLBACK_PREFIX + c.value).encode()) <= 64
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(rows)
