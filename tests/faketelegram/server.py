"""A local fake of the Telegram Bot API for tests that run the real python-telegram-bot.

One aiohttp server on 127.0.0.1 answers `/bot<token>/<method>` like api.telegram.org: JSON,
form, multipart or query arguments; `{"ok": true, "result": …}` or
`{"ok": false, "error_code": …, "description": …}` bodies; 401 for a wrong token, 404 for an
unknown method, 429 with `parameters.retry_after`. It keeps chats, users and messages, so edits,
deletes, replies and callback queries refer to real stored messages, and it queues updates for
getUpdates long polling. Group messages follow privacy mode (see `push_message`). Everything
runs in the test's event loop; no locking is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import inspect
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from fakewait import LocalServer, Outage, Waiter

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA = 64  # bytes
FORUM_ICON_COLOR = 7322096

# Update types getUpdates / webhooks deliver when allowed_updates is empty.
_DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "inline_query",
        "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "business_connection",
        "business_message", "edited_business_message", "deleted_business_messages",
        "message_reaction", "purchased_paid_media", "removed_chat_boost", "chat_boost",
    }
) - {"message_reaction"}  # fmt: skip
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip

# Form-encoded arguments arrive as strings; Telegram reads them by the parameter's type.
_JSON_ARGS = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "reply_parameters": "can't parse reply parameters JSON object",
    "entities": "can't parse entities JSON object",
    "commands": "can't parse commands JSON object",
    "scope": "can't parse BotCommandScope JSON object",
    "allowed_updates": "can't parse allowed updates JSON object",
    "link_preview_options": "can't parse link preview options JSON object",
}
_INT_ARGS = frozenset(
    {
        "chat_id", "message_id", "message_thread_id", "reply_to_message_id", "user_id",
        "offset", "limit", "timeout", "max_connections", "cache_time",
    }
)  # fmt: skip
_BOOL_ARGS = frozenset(
    {
        "disable_notification", "protect_content", "drop_pending_updates", "show_alert",
        "disable_web_page_preview", "allow_sending_without_reply", "allow_paid_broadcast",
    }
)  # fmt: skip
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_SHAPE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANG_SHAPE = re.compile(r"^([a-z]{2})?$")


@dataclass(frozen=True)
class Call:
    """One request the fake received. `at` is time.monotonic(); `status`/`response` are what
    it answered."""

    method: str
    params: JSONDict
    at: float
    status: int = 200
    response: Any = None


@dataclass
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass
class FakeChat:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    last_message_id: int = 0
    topics: dict[int, str] = field(default_factory=dict)  # message_thread_id -> name
    admins: set[int] = field(default_factory=set)
    creator_id: int | None = None
    members: set[int] = field(default_factory=set)

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or f"User {self.id}"
            if self.username:
                data["username"] = self.username
        else:
            data["title"] = self.title or f"Group {self.id}"
            if self.is_forum:
                data["is_forum"] = True
        return data

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class _Stored:
    api: JSONDict  # the Message as the Bot API returns it
    seq: int
    parse_mode: str | None = None
    raw_text: str | None = None  # text as sent, before parse_mode was applied
    other_markup: JSONDict | None = None  # a reply keyboard / force_reply (not echoed back)


@dataclass
class _Fault:
    status: int
    retry_after: int
    description: str
    remaining: int


class _ApiError(Exception):
    def __init__(self, status: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class _ParseError(Exception):
    pass


class FakeTelegram(LocalServer):
    """Fake Telegram Bot API server. Use as `async with FakeTelegram() as fake:` and build the
    bot with `ApplicationBuilder().token(fake.token).base_url(fake.base_url)`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_id: int = 123456,
        username: str = "mail_doctor_bot",
        *,
        first_name: str = "Mail Doctor",
        host: str = "127.0.0.1",
        port: int = 0,
        privacy_mode: bool = True,
        first_update_id: int = 1000,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.privacy_mode = privacy_mode
        self.bot = FakeUser(bot_id, first_name, username, is_bot=True)

        self.calls: list[Call] = []
        self.users: dict[int, FakeUser] = {bot_id: self.bot}
        self.chats: dict[int, FakeChat] = {}
        self.deleted: list[JSONDict] = []  # messages removed by deleteMessage
        self.withheld: list[JSONDict] = []  # group updates privacy mode kept from the bot
        self.answers: list[JSONDict] = []  # answerCallbackQuery arguments, in order
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope json, lang) -> list
        self.webhook: JSONDict | None = None  # setWebhook arguments while a webhook is set
        self.blocked: set[int] = set()  # users who blocked the bot
        self._messages: dict[tuple[int, int], _Stored] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = first_update_id
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._queries: dict[str, JSONDict] = {}  # callback_query id -> {"answered": bool, …}
        self._faults: dict[str, list[_Fault]] = {}
        self._outages: dict[str, Outage] = {}
        self._seq = 0
        self._poll_generation = 0
        self._poll_terminator = ""
        self._closing = False
        self._waiter = Waiter()

        self._methods: dict[str, Callable[[JSONDict], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendChatAction": self._send_chat_action,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
        }
        self._canonical = {name.lower(): name for name in self._methods}  # names are case-blind

    # --- lifecycle ------------------------------------------------------------------------------

    shutdown_timeout = 1.0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self) -> None:
        await super().start()
        self._closing = False

    async def stop(self) -> None:
        self._closing = True  # pending long polls return at once
        self._changed()
        await super().stop()

    @property
    def base_url(self) -> str:
        """For python-telegram-bot's `base_url`: it appends the token and `/method`."""
        return f"{self.url}/bot"

    @property
    def username(self) -> str:
        return self.bot.username or ""

    # --- set-up ---------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ja",
        is_bot: bool = False,
    ) -> FakeUser:
        user = self.users.get(user_id)
        if user is None:
            name = first_name or f"User {user_id}"
            user = FakeUser(user_id, name, username, language_code, is_bot)
            self.users[user_id] = user
        else:
            user.first_name = first_name or user.first_name
            user.username = username or user.username
            user.language_code = language_code or user.language_code
        return user

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str = "private",
        title: str | None = None,
        is_forum: bool = False,
        bot_is_admin: bool = False,
        creator_id: int | None = None,
    ) -> FakeChat:
        """A chat the bot is in (a private chat: the user has pressed Start). Private chat ids
        are the user's id; group ids are usually negative (supergroups -100…)."""
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"unsupported chat_type {chat_type!r}")
        if is_forum and chat_type != "supergroup":
            raise ValueError("only supergroups can be forums (topics)")
        chat = self.chats.get(chat_id)
        if chat is not None:
            if chat.type != chat_type:
                raise ValueError(f"chat {chat_id} is a {chat.type}, not a {chat_type}")
            chat.is_forum = chat.is_forum or is_forum
        else:
            chat = FakeChat(chat_id, chat_type, title=title, is_forum=is_forum)
            if chat_type == "private":
                user = self.add_user(chat_id)
                chat.first_name, chat.username = user.first_name, user.username
                chat.members.add(chat_id)
            self.chats[chat_id] = chat
        if creator_id is not None:
            chat.creator_id = creator_id
            chat.members.add(creator_id)
            self.add_user(creator_id)
        chat.members.add(self.bot.id)
        if bot_is_admin:
            chat.admins.add(self.bot.id)
        return chat

    def set_admin(self, chat_id: int, user_id: int | None = None, admin: bool = True) -> None:
        """Make the bot (user_id=None) or a user an administrator of a group, or not. An admin
        bot sees every group message and may delete other people's messages."""
        chat = self.chats.get(chat_id) or self.add_chat(chat_id, chat_type="supergroup")
        uid = self.bot.id if user_id is None else user_id
        chat.members.add(uid)
        (chat.admins.add if admin else chat.admins.discard)(uid)

    def add_topic(self, chat_id: int, thread_id: int, name: str, creator_id: int) -> JSONDict:
        """A forum topic: its root (forum_topic_created) message has id `thread_id`."""
        chat = self.chats.get(chat_id) or self.add_chat(chat_id, chat_type="supergroup")
        if chat.type != "supergroup":
            raise ValueError("topics exist only in supergroups")
        chat.is_forum = True
        if thread_id in chat.topics:
            return self._api_copy(self._messages[(chat_id, thread_id)].api)
        if (chat_id, thread_id) in self._messages:
            raise ValueError(f"message {thread_id} already exists in chat {chat_id}")
        chat.last_message_id = max(chat.last_message_id, thread_id)
        chat.topics[thread_id] = name
        creator = self.add_user(creator_id)
        root: JSONDict = {
            "message_id": thread_id,
            "from": creator.to_api(),
            "chat": chat.to_api(),
            "date": int(time.time()),
            "message_thread_id": thread_id,
            "forum_topic_created": {"name": name, "icon_color": FORUM_ICON_COLOR},
            "is_topic_message": True,
        }
        self._store(chat_id, root)
        return self._api_copy(root)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        *,
        description: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail: 429 with `parameters.retry_after`
        (Telegram's flood control), 5xx, or any 4xx with `description`."""
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            elif status == 403:
                description = "Forbidden: bot was blocked by the user"
            elif status == 400:
                description = "Bad Request"
            else:
                description = HTTPStatus(status).phrase
        name = self._canonical.get(method.lower(), method)
        self._faults.setdefault(name, []).append(_Fault(status, retry_after, description, times))

    def outage(self, method: str, seconds: float, status: int = 502, hang: float = 0.0) -> None:
        """For the next `seconds`, every call of `method` fails with `status` (5xx, or 429 with
        retry_after 1), after `hang` seconds of silence when given (a timeout)."""
        name = self._canonical.get(method.lower(), method)
        self._outages[name] = Outage(time.monotonic() + seconds, status, hang)

    # --- incoming updates -----------------------------------------------------------------------

    def push_message(
        self,
        text: str,
        chat_id: int,
        user_id: int,
        *,
        chat_type: str = "private",
        message_thread_id: int | None = None,
        reply_to_bot_message_id: int | None = None,
        entities: list[JSONDict] | None = None,
        language_code: str | None = "ja",
        first_name: str | None = None,
        username: str | None = None,
        title: str | None = None,
    ) -> JSONDict:
        """A person writes `text`; returns the `message` update (as a webhook would receive it)
        and queues it for getUpdates.

        Entities are detected as Telegram does (bot_command, mention, email, url) unless given.
        In groups, with privacy mode on and the bot not an admin, only commands (not addressed
        to another bot), @mentions of the bot and replies to the bot's messages reach the bot;
        other messages are stored in the chat but kept in `withheld` instead of the queue.
        In a forum topic (message_thread_id) a message that replies to nothing carries
        `reply_to_message` = the topic's root message, as on Telegram."""
        if chat_type == "private" and chat_id != user_id:
            raise ValueError("a private chat's id is the user's id")
        user = self.add_user(
            user_id, first_name=first_name, username=username, language_code=language_code
        )
        chat = self.chats.get(chat_id) or self.add_chat(chat_id, chat_type=chat_type, title=title)
        if chat.type != chat_type:
            raise ValueError(f"chat {chat_id} is a {chat.type}, not a {chat_type}")
        chat.members.add(user_id)
        if message_thread_id is not None and message_thread_id not in chat.topics:
            self.add_topic(chat_id, message_thread_id, f"Topic {message_thread_id}", user_id)
        msg: JSONDict = {
            "message_id": chat.next_message_id(),
            "from": user.to_api(),
            "chat": chat.to_api(),
            "date": int(time.time()),
        }
        self._place_in_thread(msg, chat, message_thread_id)
        if reply_to_bot_message_id is not None:
            target = self._messages.get((chat_id, reply_to_bot_message_id))
            if target is None or target.api["from"]["id"] != self.bot.id:
                raise ValueError(f"no bot message {reply_to_bot_message_id} in chat {chat_id}")
            msg["reply_to_message"] = self._snapshot(target.api)
        msg["text"] = text
        found = _auto_entities(text) if entities is None else copy.deepcopy(entities)
        if found:
            msg["entities"] = found
        self._store(chat_id, msg)
        update = {"update_id": self._take_update_id(), "message": self._api_copy(msg)}
        if self._bot_sees(chat, msg):
            self._queue(update)
        else:
            self.withheld.append(copy.deepcopy(update))
            self._changed()
        return copy.deepcopy(update)

    def push_command(self, text: str, chat_id: int, user_id: int, **kwargs: Any) -> JSONDict:
        """`/check args` as a bot_command message; in groups it becomes `/check@<bot> args`,
        the form Telegram clients send when a command is picked from the bot's menu."""
        if not text.startswith("/"):
            text = "/" + text
        chat_type = kwargs.get("chat_type", "private")
        command, sep, rest = text.partition(" ")
        if chat_type != "private" and "@" not in command:
            text = f"{command}@{self.username}{sep}{rest}"
        return self.push_message(text, chat_id, user_id, **kwargs)

    def mention(self, text: str = "") -> str:
        """`@<bot> text`: a message that Telegram gives a `mention` entity for the bot."""
        return f"@{self.username} {text}".rstrip()

    def push_mention(self, text: str, chat_id: int, user_id: int, **kwargs: Any) -> JSONDict:
        """`push_message` of `@<bot> text` (the `mention` entity is added at offset 0)."""
        return self.push_message(self.mention(text), chat_id, user_id, **kwargs)

    def push_callback(
        self,
        data: str,
        chat_id: int,
        user_id: int,
        message_id: int,
        *,
        language_code: str | None = "ja",
        check: bool = True,
    ) -> JSONDict:
        """A person presses the button with `data` on the bot's message; returns the
        `callback_query` update (with the message as currently stored) and queues it.
        `check=False` allows data that is no longer on the keyboard (a stale client)."""
        stored = self._messages.get((chat_id, message_id))
        if stored is None or stored.api["from"]["id"] != self.bot.id:
            raise ValueError(f"no bot message {message_id} in chat {chat_id}")
        buttons = [
            b.get("callback_data")
            for row in (stored.api.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ]
        if check and data not in buttons:
            raise ValueError(
                f"message {message_id} has no button with callback_data {data!r} "
                f"(buttons: {buttons}); pass check=False to simulate a stale client"
            )
        user = self.add_user(user_id, language_code=language_code)
        self._seq += 1
        query_id = str(4_382_000_000_000_000_000 + self._seq)
        self._queries[query_id] = {"answered": False, "chat_id": chat_id, "user_id": user_id}
        query = {
            "id": query_id,
            "from": user.to_api(),
            "message": self._api_copy(stored.api),
            "chat_instance": str((chat_id * 2_654_435_761) % 10**19),
            "data": data,
        }
        update = {"update_id": self._take_update_id(), "callback_query": query}
        self._queue(update)
        return copy.deepcopy(update)

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue any update (an `update_id` is assigned if it has none)."""
        update = copy.deepcopy(update)
        update.setdefault("update_id", self._take_update_id())
        self._queue(update)
        return copy.deepcopy(update)

    async def post_webhook(
        self, url: str, update: JSONDict, secret: str | None = None
    ) -> tuple[int, str]:
        """POST `update` to a webhook as Telegram does (JSON; the secret header when given)."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=json.dumps(update), headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    # --- inspection -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        name = self._canonical.get(method.lower(), method)
        return [c for c in self.calls if c.method == name]

    def clear_calls(self) -> None:
        self.calls.clear()

    def messages(self, chat_id: int | None = None, thread_id: int | None = None) -> list[JSONDict]:
        """Every stored message (people's and the bot's), oldest first, as currently stored."""
        out = []
        for (cid, _), stored in sorted(self._messages.items(), key=lambda kv: kv[1].seq):
            if chat_id is not None and cid != chat_id:
                continue
            if thread_id is not None and stored.api.get("message_thread_id") != thread_id:
                continue
            out.append(
                {
                    **self._api_copy(stored.api),
                    "parse_mode": stored.parse_mode,
                    "raw_text": stored.raw_text,
                }
            )
        return out

    def sent(self, chat_id: int | None = None, thread_id: int | None = None) -> list[JSONDict]:
        """The bot's messages as currently stored (after edits, without deleted ones), oldest
        first: Bot API Message dicts plus `parse_mode` and `raw_text` (the text as sent)."""
        return [m for m in self.messages(chat_id, thread_id) if m["from"]["id"] == self.bot.id]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        stored = self._messages.get((chat_id, message_id))
        return None if stored is None else self._api_copy(stored.api)

    def answered(self, callback_query_id: str) -> bool:
        return bool(self._queries.get(callback_query_id, {}).get("answered"))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Queued updates not yet confirmed by a getUpdates offset."""
        return copy.deepcopy(self._updates)

    def dump(self, calls: Iterable[Call] | None = None) -> str:
        """Readable list of recorded calls, for assertion messages."""
        chosen = list(self.calls if calls is None else calls)
        if not chosen:
            return "  (no calls)"
        t0 = chosen[0].at
        lines = []
        for c in chosen:
            params = json.dumps(c.params, ensure_ascii=False, default=str)
            if len(params) > 300:
                params = params[:300] + "…"
            outcome = "ok"
            if isinstance(c.response, dict) and not c.response.get("ok"):
                outcome = str(c.response.get("description"))
            lines.append(f"  +{c.at - t0:.3f}s {c.method} [{c.status} {outcome}] {params}")
        return "\n".join(lines)

    # --- internals: state -----------------------------------------------------------------------

    def _take_update_id(self) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        return update_id

    def _queue(self, update: JSONDict) -> None:
        self._updates.append(copy.deepcopy(update))
        self._changed()

    def _store(self, chat_id: int, api: JSONDict, **meta: Any) -> _Stored:
        self._seq += 1
        stored = _Stored(api, self._seq, **meta)
        self._messages[(chat_id, api["message_id"])] = stored
        return stored

    @staticmethod
    def _api_copy(api: JSONDict) -> JSONDict:
        return copy.deepcopy(api)

    @staticmethod
    def _snapshot(api: JSONDict) -> JSONDict:
        """A message as embedded in reply_to_message (Telegram does not nest replies further)."""
        snap = copy.deepcopy(api)
        snap.pop("reply_to_message", None)
        return snap

    def _place_in_thread(self, msg: JSONDict, chat: FakeChat, thread_id: int | None) -> None:
        if thread_id is None:
            return
        msg["message_thread_id"] = thread_id
        msg["is_topic_message"] = True
        root = self._messages.get((chat.id, thread_id))
        if root is not None:  # replaced by an explicit reply target where there is one
            msg["reply_to_message"] = self._snapshot(root.api)

    def _bot_sees(self, chat: FakeChat, msg: JSONDict) -> bool:
        """Privacy mode: which group messages reach the bot."""
        if chat.type == "private" or not self.privacy_mode or self.bot.id in chat.admins:
            return True
        text = msg.get("text") or ""
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            _, at, target = command.partition("@")
            return not at or target.lower() == self.username.lower()
        reply = msg.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot.id:
            return True
        wanted = f"@{self.username}".lower()
        return any(
            e.get("type") == "mention" and _u16_slice(text, e["offset"], e["length"]) == wanted
            for e in msg.get("entities", [])
        )

    # --- internals: HTTP ------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        token = request.match_info["token"]
        requested = request.match_info["method"]
        method = self._canonical.get(requested.lower(), requested)
        params: JSONDict = {}
        try:
            params = await _read_args(request)
            if token != self.token:
                # Telegram: 401 for a well-formed token it does not know, 404 for garbage.
                if _TOKEN_SHAPE.match(token):
                    raise _ApiError(401, "Unauthorized")
                raise _ApiError(404, "Not Found")
            handler = self._methods.get(method)
            if handler is None:
                raise _ApiError(404, "Not Found")
            outage = self._outages.get(method)
            if outage is not None and time.monotonic() < outage.until:
                if outage.hang:
                    await asyncio.sleep(outage.hang)  # longer than the client waits
                extra = {"retry_after": 1} if outage.status == 429 else {}
                raise _ApiError(outage.status, HTTPStatus(outage.status).phrase, **extra)
            faults = self._faults.get(method)
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.pop(0)
                extra = {"retry_after": fault.retry_after} if fault.status == 429 else {}
                raise _ApiError(fault.status, fault.description, **extra)
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
            body: JSONDict = {"ok": True, "result": result}
            if isinstance(result, _WithDescription):
                body = {"ok": True, "result": result.result, "description": result.description}
            status = 200
        except _ApiError as e:
            status = e.status
            body = {"ok": False, "error_code": e.status, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
        except Exception as e:  # a bug in the fake: say so rather than hang the client
            status = 500
            body = {"ok": False, "error_code": 500, "description": f"fake internal error: {e!r}"}
        self.calls.append(Call(method, params, at, status, body))
        self._changed()
        return _json_response(status, body)

    # --- internals: argument helpers ------------------------------------------------------------

    def _chat(self, p: JSONDict, *, sending: bool = False) -> FakeChat:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        chat = None
        if isinstance(chat_id, int):
            chat = self.chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == chat_id[1:]), None)
        if chat is None:
            raise _ApiError(400, "Bad Request: chat not found")
        if sending and chat.type == "private" and chat.id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    @staticmethod
    def _message_id(p: JSONDict, missing: str = "message identifier is not specified") -> int:
        mid = p.get("message_id")
        if not isinstance(mid, int) or isinstance(mid, bool):
            raise _ApiError(400, f"Bad Request: {missing}")
        return mid

    def _bot_message(self, chat: FakeChat, p: JSONDict) -> _Stored:
        if p.get("inline_message_id"):
            raise _ApiError(400, "Bad Request: MESSAGE_ID_INVALID")  # no inline mode here
        stored = self._messages.get((chat.id, self._message_id(p)))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if stored.api["from"]["id"] != self.bot.id:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return stored

    def _text(self, p: JSONDict) -> tuple[str, list[JSONDict], str | None, str]:
        """(plain text, entities, parse_mode, raw text) of a text argument."""
        raw = p.get("text")
        if not isinstance(raw, str) or not raw.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        parse_mode = p.get("parse_mode") or None
        given = p.get("entities")
        try:
            if given is not None:
                plain, entities = raw, _check_entities(given)
            else:
                plain, entities = _format(raw, parse_mode)
                entities = _merge_auto(plain, entities)
        except _ParseError as e:
            raise _ApiError(400, f"Bad Request: can't parse entities: {e}") from None
        if not plain.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return plain, entities, parse_mode, raw

    @staticmethod
    def _markup(raw: Any, *, inline_only: bool = False) -> tuple[JSONDict | None, JSONDict | None]:
        """(inline keyboard or None, other reply markup or None), validated as Telegram does."""
        if raw is None or raw == "":
            return None, None
        if not isinstance(raw, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in raw:
            if inline_only or not {"keyboard", "remove_keyboard", "force_reply"} & raw.keys():
                raise _ApiError(400, "Bad Request: inline keyboard expected")
            return None, copy.deepcopy(raw)
        rows = raw["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _ApiError(400, "Bad Request: can't parse inline keyboard button JSON object")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _ApiError(
                        400, "Bad Request: can't parse inline keyboard button: Text must be String"
                    )
                actions = [k for k in _BUTTON_ACTIONS if k in button]
                if not actions:
                    raise _ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(data.encode()) if isinstance(data, str) else 0
                    if not 1 <= size <= MAX_CALLBACK_DATA:
                        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                        raise _ApiError(400, "Bad Request: BUTTON_URL_INVALID")
        kept = [copy.deepcopy(row) for row in rows if row]
        return ({"inline_keyboard": kept} if kept else None), None

    def _reply_target(self, chat: FakeChat, p: JSONDict) -> _Stored | None:
        params = p.get("reply_parameters")
        if isinstance(params, dict):
            mid, lenient = params.get("message_id"), bool(params.get("allow_sending_without_reply"))
            other = params.get("chat_id")
            if other not in (None, chat.id):
                raise _ApiError(400, "Bad Request: message to be replied not found")
        else:
            mid, lenient = p.get("reply_to_message_id"), bool(p.get("allow_sending_without_reply"))
        if mid is None:
            return None
        target = self._messages.get((chat.id, mid)) if isinstance(mid, int) else None
        if target is None and not lenient:
            raise _ApiError(400, "Bad Request: message to be replied not found")
        return target

    # --- Bot API methods ------------------------------------------------------------------------

    def _get_me(self, p: JSONDict) -> JSONDict:
        return {
            **self.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # A newer getUpdates ends the one still waiting (one consumer per token).
        self._end_polls(
            "terminated by other getUpdates request; "
            "make sure that only one bot instance is running"
        )
        generation = self._poll_generation
        offset = p.get("offset") or 0
        if isinstance(offset, int) and offset > 0:  # confirms every update below `offset`
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:  # keep only the last -offset updates
            self._updates = self._updates[offset:]
        limit = p.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) and limit else 100
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):  # remembered until changed; [] means the default set
            self._allowed_updates = frozenset(allowed) or _DEFAULT_UPDATE_TYPES
        timeout = p.get("timeout") or 0
        wait = max(float(timeout), 0.0) if isinstance(timeout, int | float) else 0.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if generation != self._poll_generation:
                raise _ApiError(409, f"Conflict: {self._poll_terminator}")
            ready = [u for u in self._updates if _update_type(u) in self._allowed_updates]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing:
                return copy.deepcopy(ready[:limit])
            waiter = self._waiter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.event.wait(), remaining)

    def _send_message(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p, sending=True)
        plain, entities, parse_mode, raw = self._text(p)
        inline, other = self._markup(p.get("reply_markup"))
        thread_id = p.get("message_thread_id")
        if thread_id is not None and thread_id not in chat.topics:
            raise _ApiError(400, "Bad Request: message thread not found")
        target = self._reply_target(chat, p)
        if thread_id is None and target is not None and target.api.get("is_topic_message"):
            thread_id = target.api.get("message_thread_id")
        msg: JSONDict = {
            "message_id": chat.next_message_id(),
            "from": self.bot.to_api(),
            "chat": chat.to_api(),
            "date": int(time.time()),
        }
        self._place_in_thread(msg, chat, thread_id)
        if target is not None:
            msg["reply_to_message"] = self._snapshot(target.api)
        msg["text"] = plain
        if entities:
            msg["entities"] = entities
        if inline is not None:
            msg["reply_markup"] = inline
        self._store(chat.id, msg, parse_mode=parse_mode, raw_text=raw, other_markup=other)
        return self._api_copy(msg)

    def _edit_message_text(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        stored = self._bot_message(chat, p)
        plain, entities, parse_mode, raw = self._text(p)
        inline, _ = self._markup(p.get("reply_markup"), inline_only=True)
        api = stored.api
        if (
            plain == api.get("text")
            and entities == api.get("entities", [])
            and inline == api.get("reply_markup")
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        api["text"] = plain
        _set_or_drop(api, "entities", entities or None)
        _set_or_drop(api, "reply_markup", inline)  # no reply_markup: the keyboard goes
        api["edit_date"] = int(time.time())
        stored.parse_mode, stored.raw_text = parse_mode, raw
        return self._api_copy(api)

    def _edit_message_reply_markup(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        stored = self._bot_message(chat, p)
        inline, _ = self._markup(p.get("reply_markup"), inline_only=True)
        api = stored.api
        if inline == api.get("reply_markup"):
            raise _ApiError(400, _NOT_MODIFIED)
        _set_or_drop(api, "reply_markup", inline)
        api["edit_date"] = int(time.time())
        return self._api_copy(api)

    def _answer_callback_query(self, p: JSONDict) -> bool:
        query = self._queries.get(str(p.get("callback_query_id", "")))
        if query is None or query["answered"]:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = p.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query["answered"] = True
        self.answers.append(dict(p))
        return True

    def _delete_message(self, p: JSONDict) -> bool:
        chat = self._chat(p)
        mid = self._message_id(p)
        stored = self._messages.get((chat.id, mid))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        own = stored.api["from"]["id"] == self.bot.id
        # In groups only an admin bot may delete other people's messages (private chats: any).
        if chat.type != "private" and not own and self.bot.id not in chat.admins:
            raise _ApiError(400, "Bad Request: message can't be deleted")
        del self._messages[(chat.id, mid)]
        self.deleted.append(self._api_copy(stored.api))
        return True

    @staticmethod
    def _commands_key(p: JSONDict) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        lang = p.get("language_code") or ""
        if not isinstance(lang, str) or not _LANG_SHAPE.match(lang):
            raise _ApiError(400, "Bad Request: invalid language code specified")
        return json.dumps(scope, sort_keys=True), lang

    def _set_my_commands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        for c in commands:
            if not isinstance(c, dict) or not _COMMAND_SHAPE.match(str(c.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = c.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(p)
        stored = [{"command": c["command"], "description": c["description"]} for c in commands]
        if stored:
            self.commands[key] = stored
        else:
            self.commands.pop(key, None)
        return True

    def _get_my_commands(self, p: JSONDict) -> list[JSONDict]:
        return copy.deepcopy(self.commands.get(self._commands_key(p), []))

    def _delete_my_commands(self, p: JSONDict) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    def _end_polls(self, reason: str) -> None:
        self._poll_generation += 1
        self._poll_terminator = reason
        self._changed()

    def _set_webhook(self, p: JSONDict) -> _WithDescription:
        url = p.get("url") or ""
        if not url:
            return self._delete_webhook(p)
        parts = urlsplit(str(url))
        if parts.scheme != "https" or not parts.hostname:
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if (parts.port or 443) not in (80, 88, 443, 8443):
            raise _ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
            )
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_SHAPE.match(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = p.get("max_connections") or 40
        if not isinstance(max_connections, int) or not 1 <= max_connections <= 100:
            raise _ApiError(400, "Bad Request: bad webhook: max_connections must be 1-100")
        if p.get("drop_pending_updates"):
            self._updates.clear()
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or _DEFAULT_UPDATE_TYPES
        same = self.webhook is not None and self.webhook["url"] == url
        self.webhook = {"url": url, "secret_token": secret, "max_connections": max_connections}
        self._end_polls("terminated by setWebhook request")
        return _WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    def _delete_webhook(self, p: JSONDict) -> _WithDescription:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        was_set, self.webhook = self.webhook is not None, None
        return _WithDescription(
            True, "Webhook was deleted" if was_set else "Webhook is already deleted"
        )

    def _get_webhook_info(self, p: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates != _DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _send_chat_action(self, p: JSONDict) -> bool:
        chat = self._chat(p, sending=True)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        thread_id = p.get("message_thread_id")
        if thread_id is not None and thread_id not in chat.topics:
            raise _ApiError(400, "Bad Request: message thread not found")
        return True

    def _member(self, chat: FakeChat, user_id: int) -> JSONDict:
        user = self.users[user_id].to_api()
        if user_id == chat.creator_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins:
            bot = user_id == self.bot.id
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": not bot,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
                "can_manage_topics": chat.is_forum,
            }
        return {"status": "member", "user": user}

    def _get_chat_member(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        user_id = p.get("user_id")
        if not isinstance(user_id, int) or user_id not in self.users:
            raise _ApiError(400, "Bad Request: user not found")
        if user_id not in chat.members and user_id != chat.creator_id:
            return {"status": "left", "user": self.users[user_id].to_api()}
        return self._member(chat, user_id)

    def _get_chat_administrators(self, p: JSONDict) -> list[JSONDict]:
        chat = self._chat(p)
        if chat.type == "private":
            raise _ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = ([chat.creator_id] if chat.creator_id is not None else []) + sorted(
            chat.admins - {chat.creator_id}
        )
        return [self._member(chat, uid) for uid in ids]


_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@dataclass
class _WithDescription:
    """A result Telegram answers together with a `description` (setWebhook, deleteWebhook)."""

    result: Any
    description: str


def _json_response(status: int, body: JSONDict) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
    )


def _set_or_drop(d: JSONDict, key: str, value: Any) -> None:
    if value is None:
        d.pop(key, None)
    else:
        d[key] = value


def _update_type(update: JSONDict) -> str:
    return next((k for k in update if k != "update_id"), "")


async def _read_args(request: web.Request) -> JSONDict:
    """Query, then JSON / form / multipart body, each value read by its parameter's type."""
    params: JSONDict = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise _ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise _ApiError(400, "Bad Request: can't parse JSON encoded request")
            params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    for key, value in list(params.items()):
        if not isinstance(value, str):
            continue
        if key in _JSON_ARGS:
            if value == "":
                params[key] = None
                continue
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                raise _ApiError(400, f"Bad Request: {_JSON_ARGS[key]}") from None
        elif key in _INT_ARGS and re.fullmatch(r"\s*-?\d+\s*", value):
            params[key] = int(value)
        elif key == "timeout" and re.fullmatch(r"\s*\d+\.\d*\s*", value):
            params[key] = float(value)
        elif key in _BOOL_ARGS:
            params[key] = value.strip().lower() in ("true", "1")
    return params


# --- text entities (offsets and lengths in UTF-16 code units, as in the Bot API) --------------


def _u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _u16_slice(s: str, offset: int, length: int) -> str:
    data = s.encode("utf-16-le")
    return data[offset * 2 : (offset + length) * 2].decode("utf-16-le", "replace").lower()


_AUTO = re.compile(
    r"(?P<email>(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    r"|(?P<url>\bhttps?://[^\s<>\"]+)"
    r"|(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@]))"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{4,32}(?![\w@]))"
)


def _auto_entities(text: str) -> list[JSONDict]:
    """The entities Telegram finds in plain text by itself."""
    found = []
    for m in _AUTO.finditer(text):
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "url":
            value = value.rstrip(".,;:!?)]'")
        start = _u16(text[: m.start()])
        found.append({"offset": start, "length": _u16(value), "type": kind})
    return found


def _merge_auto(text: str, entities: list[JSONDict]) -> list[JSONDict]:
    """Formatted entities plus the automatic ones that do not fall inside code or links."""
    blocking = [
        (e["offset"], e["offset"] + e["length"])
        for e in entities
        if e["type"] in ("code", "pre", "text_link", "text_mention")
    ]
    merged = list(entities)
    for auto in _auto_entities(text):
        a, b = auto["offset"], auto["offset"] + auto["length"]
        if all(b <= s or a >= e for s, e in blocking):
            merged.append(auto)
    return sorted(merged, key=lambda e: (e["offset"], -e["length"]))


def _check_entities(given: Any) -> list[JSONDict]:
    if not isinstance(given, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        for e in given
    ):
        raise _ApiError(400, "Bad Request: can't parse entities JSON object")
    return sorted(copy.deepcopy(given), key=lambda e: (e["offset"], -e["length"]))


class _Out:
    """Plain text under construction, with its length in UTF-16 units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += _u16(s)

    def text(self) -> str:
        return "".join(self.parts)


def _format(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    mode = (parse_mode or "").lower()
    if not mode:
        return text, []
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise _ApiError(400, "Bad Request: unsupported parse_mode")


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode())


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_HTML_ENTITY = re.compile(r"&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_HTML_ATTR = re.compile(r"([A-Za-z_:-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Telegram's HTML style: only its tags; `<`, `>` and `&` otherwise escaped."""
    out = _Out()
    entities: list[JSONDict] = []
    stack: list[tuple[str, int, JSONDict | None]] = []  # tag, start, entity (None: no entity)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "&":
            m = _HTML_ENTITY.match(src, i)
            if m:
                out.add(html.unescape(m.group()))
                i = m.end()
                continue
            out.add(c)  # a stray `&` is taken literally
            i += 1
            continue
        if c != "<":
            out.add(c)
            i += 1
            continue
        end = src.find(">", i)
        if src.startswith("</", i):
            if end < 0:
                raise _ParseError(f"Unclosed end tag at byte offset {_byte_offset(src, i)}")
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise _ParseError(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
            tag, start, opened = stack.pop()
            if name != tag:
                raise _ParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            if tag == "code" and stack and stack[-1][0] == "pre" and opened is not None:
                pre = stack[-1][2]
                if pre is not None and "language" in opened:
                    pre["language"] = opened["language"]
            elif opened is not None and out.pos > start:
                kind = {"type": "code"} if opened["type"] == "code" else opened  # no language
                entities.append({**kind, "offset": start, "length": out.pos - start})
            i = end + 1
            continue
        name_match = re.match(r"<([^\s>/]*)", src[i:])
        name = name_match.group(1).lower() if name_match else ""
        if name not in _HTML_TAGS:
            raise _ParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
            )
        if end < 0:
            raise _ParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
        attrs: dict[str, str] = {}
        for am in _HTML_ATTR.finditer(src, i + 1 + len(name), end):
            value = next((g for g in am.groups()[1:] if g is not None), "")
            attrs[am.group(1).lower()] = html.unescape(value)
        entity: JSONDict | None = {"type": _HTML_TAGS[name]}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _ParseError('Tag "span" must have class "tg-spoiler"')
        if name == "a":
            entity = {"type": "text_link", "url": attrs["href"]} if attrs.get("href") else None
        elif name == "code" and attrs.get("class", "").startswith("language-"):
            entity = {"type": "code", "language": attrs["class"][len("language-") :]}
        elif name == "blockquote" and "expandable" in attrs:
            entity = {"type": "expandable_blockquote"}
        elif name == "tg-emoji":
            if not attrs.get("emoji-id"):
                raise _ParseError('Tag "tg-emoji" must have attribute "emoji-id"')
            entity = {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
        stack.append((name, out.pos, entity))
        i = end + 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text(), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_MD2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MD2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl",
}  # fmt: skip


def _md_code(src: str, i: int, escapes: bool) -> tuple[JSONDict, str, int] | None:
    """A `code` or ```pre``` span at i: (entity, content, index after it), None if unclosed."""
    fence = src.startswith("```", i)
    width = 3 if fence else 1
    j, body = i + width, []
    while j < len(src):
        if escapes and src[j] == "\\" and j + 1 < len(src) and src[j + 1] in "`\\":
            body.append(src[j + 1])
            j += 2
            continue
        if src.startswith("`" * width, j):
            content = "".join(body)
            entity: JSONDict = {"type": "pre" if fence else "code"}
            if fence:
                first, newline, rest = content.partition("\n")
                if newline and first and not any(ch.isspace() for ch in first):
                    entity["language"], content = first, rest
            return entity, content, j + width
        body.append(src[j])
        j += 1
    return None


def _parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Telegram's MarkdownV2: every reserved character outside an entity needs a backslash."""
    out = _Out()
    entities: list[JSONDict] = []
    stack: list[tuple[str, int, int]] = []  # kind, start, byte offset of the marker
    quote: int | None = None
    i, n = 0, len(src)

    def close(kind: str, start: int, **extra: Any) -> None:
        if out.pos > start:
            entities.append({"type": kind, "offset": start, "length": out.pos - start, **extra})

    while i < n:
        c = src[i]
        if c == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) <= 126:
                out.add(src[i + 1])
                i += 2
                continue
            raise _ParseError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        if c == "`":
            code = _md_code(src, i, escapes=True)
            if code is None:
                kind = "Pre" if src.startswith("```", i) else "Code"
                raise _ParseError(
                    f"Can't find end of {kind} entity at byte offset {_byte_offset(src, i)}"
                )
            entity, content, i = code
            start = out.pos
            out.add(content)
            close(entity.pop("type"), start, **entity)
            continue
        if c == ">" and (i == 0 or src[i - 1] == "\n"):
            quote = out.pos if quote is None else quote
            i += 1
            continue
        if c == "\n" and quote is not None and not src.startswith(">", i + 1):
            close("blockquote", quote)
            quote = None
        kind, width = "", 1
        if c == "*":
            kind = "bold"
        elif c == "_":
            kind, width = ("underline", 2) if src.startswith("__", i) else ("italic", 1)
        elif c == "~":
            kind = "strikethrough"
        elif c == "|" and src.startswith("||", i):
            kind, width = "spoiler", 2
        if kind:
            idx = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][0] == kind), None)
            if idx is None:
                stack.append((kind, out.pos, _byte_offset(src, i)))
            else:
                close(kind, stack.pop(idx)[1])
            i += width
            continue
        if c == "[":
            stack.append(("text_link", out.pos, _byte_offset(src, i)))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "text_link":
            _, start, offset = stack.pop()
            if not src.startswith("(", i + 1):
                raise _ParseError(f"Can't find end of TextUrl entity at byte offset {offset}")
            j, url = i + 2, []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    j += 1
                url.append(src[j])
                j += 1
            if j >= n:
                raise _ParseError(f"Can't find end of a URL at byte offset {_byte_offset(src, i)}")
            close("text_link", start, url="".join(url))
            i = j + 1
            continue
        if c in _MD2_RESERVED:
            raise _ParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(c)
        i += 1
    if quote is not None:
        close("blockquote", quote)
    if stack:
        kind, _, offset = stack[0]
        raise _ParseError(f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {offset}")
    return out.text(), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = _Out()
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if c in "*_`":
            if c == "`":
                code = _md_code(src, i, escapes=False)
                if code is None:
                    raise _ParseError(
                        "Can't find end of the entity starting at byte offset "
                        f"{_byte_offset(src, i)}"
                    )
                entity, content, after = code
            else:
                close = src.find(c, i + 1)
                if close < 0:
                    raise _ParseError(
                        "Can't find end of the entity starting at byte offset "
                        f"{_byte_offset(src, i)}"
                    )
                entity = {"type": "bold" if c == "*" else "italic"}
                content, after = src[i + 1 : close], close + 1
            start = out.pos
            out.add(content)
            if out.pos > start:
                entities.append({**entity, "offset": start, "length": out.pos - start})
            i = after
            continue
        m = re.match(r"\[([^\]]*)\]\(([^)]*)\)", src[i:]) if c == "[" else None
        if m:
            start = out.pos
            out.add(m.group(1))
            if out.pos > start:
                entities.append(
                    {"type": "text_link", "offset": start, "length": out.pos - start, "url": m[2]}
                )
            i += m.end()
            continue
        out.add(c)
        i += 1
    return out.text(), sorted(entities, key=lambda e: (e["offset"], -e["length"]))
