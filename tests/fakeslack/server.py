"""A local fake of the Slack Web API for tests that run the real slack_sdk / slack-bolt.

One aiohttp server on 127.0.0.1 answers `/api/<method>` like slack.com/api (form, query or JSON
arguments; bearer or `token=` auth; `{"ok": …}` bodies; 429 + Retry-After) and `/hooks/<key>`
like a `response_url`. Everything runs in the test's event loop; no locking is needed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from fakewait import LocalServer, Outage, Waiter

from . import events
from .events import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "xoxb-fake-token"
DEFAULT_SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,groups:history,im:history,"
    "im:write,reactions:write,users:read"
)
PERMALINK_BASE = "https://fake.slack"
RESPONSE_URL_MAX_USES = 5  # Slack: a response_url takes up to 5 posts within 30 minutes

# Arguments Slack accepts as JSON strings in form-encoded requests.
_JSON_ARGS = ("blocks", "attachments", "metadata", "view", "unfurled_attachments")
_CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_TZ_LABELS = {
    "Asia/Tokyo": ("Japan Standard Time", 32400),
    "America/Los_Angeles": ("Pacific Standard Time", -28800),
    "America/New_York": ("Eastern Standard Time", -18000),
    "Europe/London": ("Greenwich Mean Time", 0),
    "UTC": ("Coordinated Universal Time", 0),
}


@dataclass(frozen=True)
class Call:
    """One request the fake received. `at` is time.monotonic(); `response` is what it answered."""

    method: str
    params: JSONDict
    at: float
    status: int = 200
    response: Any = None


@dataclass
class FakeUser:
    id: str
    name: str
    real_name: str
    locale: str
    tz: str
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None

    def to_api(self, team_id: str, include_locale: bool) -> JSONDict:
        label, offset = _tz_label(self.tz)
        profile: JSONDict = {
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "status_text": "",
            "status_emoji": "",
            "team": team_id,
        }
        if self.email is not None:
            profile["email"] = self.email
        user: JSONDict = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": label,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }
        if include_locale:
            user["locale"] = self.locale
        return user


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    user: str | None = None  # the other party of an IM
    is_member: bool = True
    is_archived: bool = False
    locale: str = "ja-JP"
    created: int = 1690000000

    def to_api(self, team_id: str, include_locale: bool) -> JSONDict:
        if self.is_im:
            data: JSONDict = {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        else:
            data = {
                "id": self.id,
                "name": self.name,
                "name_normalized": self.name,
                "is_channel": not self.id.startswith("G"),
                "is_group": self.id.startswith("G"),
                "is_im": False,
                "is_mpim": False,
                "is_private": self.is_private,
                "created": self.created,
                "is_archived": self.is_archived,
                "is_general": False,
                "is_shared": False,
                "is_org_shared": False,
                "is_member": self.is_member,
                "context_team_id": team_id,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
            }
        if include_locale:
            data["locale"] = self.locale
        return data


@dataclass
class _Fault:
    status: int
    retry_after: int
    error: str
    remaining: int


@dataclass
class _Hook:
    channel: str
    message_ts: str | None
    user: str | None
    thread_ts: str | None
    is_ephemeral: bool
    uses: int = 0


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _tz_label(tz: str) -> tuple[str, int]:
    if tz in _TZ_LABELS:
        return _TZ_LABELS[tz]
    try:
        now = datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


def _flag(value: Any) -> bool:
    """Slack booleans arrive as true/"true"/"1"."""
    return value is True or value == 1 or str(value).lower() in ("1", "true")


def _ts_key(ts: str) -> tuple[int, int]:
    secs, _, frac = ts.partition(".")
    try:
        return int(secs), int((frac + "000000")[:6])
    except ValueError:
        return 0, 0


def _short_id(seed: str) -> str:
    """Deterministic stand-in for the ids Slack assigns to blocks and actions."""
    return base64.b32encode(hashlib.sha1(seed.encode()).digest()).decode()[:5]


# --- Block Kit validation (the subset of Slack's rules that catches real mistakes) ------------

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_ELEMENT_TYPES = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "file_input",
        "image",
        "multi_static_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "multi_external_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "timepicker",
        "url_text_input",
        "workflow_button",
        "plain_text",
        "mrkdwn",
    }
)


def _check_text(
    obj: Any, ptr: str, errs: list[str], *, plain: bool = False, limit: int = 3000
) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errs.append(f"must provide an object [json-pointer:{ptr}]")
        return
    if plain and obj["type"] != "plain_text":
        errs.append(f"must be a valid enum value [json-pointer:{ptr}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errs.append(f"must be more than 0 characters [json-pointer:{ptr}/text]")
    elif len(text) > limit:
        errs.append(f"must be less than {limit + 1} characters [json-pointer:{ptr}/text]")


def _check_element(el: Any, ptr: str, errs: list[str]) -> None:
    if not isinstance(el, dict) or not isinstance(el.get("type"), str):
        errs.append(f"missing required field: type [json-pointer:{ptr}]")
        return
    if el["type"] not in _ELEMENT_TYPES:
        errs.append(f"unsupported type: {el['type']} [json-pointer:{ptr}/type]")
        return
    action_id = el.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
        errs.append(f"must be less than 256 characters [json-pointer:{ptr}/action_id]")
    if el["type"] == "button":
        _check_text(el.get("text"), f"{ptr}/text", errs, plain=True, limit=75)
        value = el.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            errs.append(f"must be less than 2001 characters [json-pointer:{ptr}/value]")
        if el.get("style") not in (None, "primary", "danger"):
            errs.append(f"must be a valid enum value [json-pointer:{ptr}/style]")


def _validate_blocks(blocks: Any, max_blocks: int, base: str = "/blocks") -> list[str]:
    if not isinstance(blocks, list):
        return [f"must provide an array [json-pointer:{base}]"]
    errs: list[str] = []
    if len(blocks) > max_blocks:
        errs.append(f"no more than {max_blocks} items allowed [json-pointer:{base}]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"{base}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errs.append(f"missing required field: type [json-pointer:{ptr}]")
            continue
        kind = block["type"]
        if kind not in _BLOCK_TYPES:
            errs.append(f"unsupported type: {kind} [json-pointer:{ptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                errs.append(f"must be less than 256 characters [json-pointer:{ptr}/block_id]")
            elif block_id in block_ids:
                errs.append(f"duplicate block_id: {block_id} [json-pointer:{ptr}/block_id]")
            else:
                block_ids.add(block_id)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errs.append(f"must provide text or fields [json-pointer:{ptr}]")
            if "text" in block:
                _check_text(block["text"], f"{ptr}/text", errs)
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                errs.append(f"no more than 10 items allowed [json-pointer:{ptr}/fields]")
            else:
                for j, f in enumerate(fields):
                    _check_text(f, f"{ptr}/fields/{j}", errs, limit=2000)
            if "accessory" in block:
                _check_element(block["accessory"], f"{ptr}/accessory", errs)
        elif kind == "header":
            _check_text(block.get("text"), f"{ptr}/text", errs, plain=True, limit=150)
        elif kind in ("actions", "context"):
            elements = block.get("elements")
            limit = 25 if kind == "actions" else 10
            if not isinstance(elements, list) or not elements or len(elements) > limit:
                errs.append(f"must have 1 to {limit} items [json-pointer:{ptr}/elements]")
                continue
            action_ids: set[str] = set()
            for j, el in enumerate(elements):
                _check_element(el, f"{ptr}/elements/{j}", errs)
                aid = el.get("action_id") if isinstance(el, dict) else None
                if isinstance(aid, str):
                    if aid in action_ids:
                        errs.append(f"duplicate action_id: {aid} [json-pointer:{ptr}/elements/{j}]")
                    action_ids.add(aid)
    return errs


def _assign_ids(blocks: list[JSONDict], seed: str) -> list[JSONDict]:
    """Copy of `blocks` with the block_id / action_id Slack fills in when they are missing."""
    out = copy.deepcopy(blocks)
    for i, block in enumerate(out):
        block.setdefault("block_id", _short_id(f"{seed}/{i}"))
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for j, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") not in ("image", "plain_text", "mrkdwn"):
                el.setdefault("action_id", _short_id(f"{seed}/{i}/{j}"))
    return out


class FakeSlack(LocalServer):
    """Fake Slack Web API server. Use as `async with FakeSlack() as fake:` and pass
    `base_url=fake.base_url, token=fake.token` to AsyncWebClient / AsyncApp."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        bot_name: str = "mail-doctor",
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        team_name: str = "Fake Workspace",
        app_id: str = APP_ID,
        default_locale: str = "ja-JP",
        first_ts: str = "1700000000.000100",
        scopes: str = DEFAULT_SCOPES,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.default_locale = default_locale
        self.scopes = scopes

        self.calls: list[Call] = []
        self.users: dict[str, FakeUser] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.views: dict[str, JSONDict] = {}
        self.deleted: list[JSONDict] = []  # messages removed by chat.delete / delete_original
        self._messages: dict[tuple[str, str], JSONDict] = {}
        self._ephemerals: list[JSONDict] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._outages: dict[str, Outage] = {}
        self._hooks: dict[str, _Hook] = {}
        secs, frac = _ts_key(first_ts)
        self._clock_us = secs * 1_000_000 + frac - 100
        self._serial = 0
        self._waiter = Waiter()
        self.add_user(bot_user_id, name=bot_name, is_bot=True)

        self._methods: dict[str, Callable[[JSONDict], JSONDict]] = {
            "api.test": lambda p: {"ok": True, "args": p},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
        }

    # --- lifecycle ------------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/hooks/{key}", self._handle_hook)
        return app

    @property
    def base_url(self) -> str:
        """Pass as slack_sdk's `base_url` (it must end with a slash)."""
        return f"{self.url}/api/"

    # --- configuration --------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        locale: str | None = None,
        tz: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        email: str | None = None,
    ) -> FakeUser:
        """Register (or replace) a user; unregistered U…/W… IDs exist with default settings."""
        loc = locale or self.default_locale
        user = FakeUser(
            id=user_id,
            name=name or user_id.lower(),
            real_name=real_name or name or user_id,
            locale=loc,
            tz=tz or ("Asia/Tokyo" if loc.startswith("ja") else "America/Los_Angeles"),
            is_bot=is_bot,
            deleted=deleted,
            email=email,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        is_private: bool = False,
        user: str | None = None,
        is_member: bool = True,
        is_archived: bool = False,
        locale: str | None = None,
    ) -> FakeChannel:
        """Register (or replace) a conversation; a D… ID is an IM with `user`. Unregistered
        C…/G…/D… IDs exist as channels the bot is a member of."""
        is_im = channel_id.startswith("D")
        ch = FakeChannel(
            id=channel_id,
            name=name or channel_id.lower(),
            is_private=is_private or channel_id.startswith("G"),
            is_im=is_im,
            user=(user or "U" + channel_id[1:]) if is_im else None,
            is_member=is_member,
            is_archived=is_archived,
            locale=locale or self.default_locale,
        )
        self.channels[channel_id] = ch
        return ch

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail: 429 (Retry-After, "ratelimited"), 5xx
        ("internal_error"/"service_unavailable"), or 200 with `{"ok": false, "error": error}`."""
        if error is None:
            if status == 200:
                raise ValueError("fail_next(status=200) needs an error code")
            error = {429: "ratelimited", 503: "service_unavailable"}.get(status, "internal_error")
        self._faults.setdefault(method, []).append(_Fault(status, retry_after, error, times))

    def outage(self, method: str, seconds: float, status: int = 503, hang: float = 0.0) -> None:
        """For the next `seconds`, every call of `method` fails with `status` (503, 500, 429
        with Retry-After: 1), after `hang` seconds of silence when given (a timeout)."""
        self._outages[method] = Outage(time.monotonic() + seconds, status, hang)

    def response_url(
        self,
        channel: str,
        message_ts: str | None = None,
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """A working response_url for an action on message (channel, message_ts) by `user`, or
        for a slash command (no message_ts). Posts are recorded as Call("response_url", body)."""
        self._serial += 1
        key = f"{self.team_id}-{self._serial}-{_short_id(f'hook{self._serial}{time.time()}')}"
        self._hooks[key] = _Hook(channel, message_ts, user, thread_ts, is_ephemeral)
        return f"{self.url}/hooks/{key}"

    def next_ts(self) -> str:
        """Allocate the next message timestamp (unique and increasing)."""
        self._clock_us += 100
        return f"{self._clock_us // 1_000_000}.{self._clock_us % 1_000_000:06d}"

    def add_message(
        self,
        channel: str,
        text: str,
        user: str,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[JSONDict] | None = None,
    ) -> JSONDict:
        """Store a message a human posted (so replies/permalinks/reactions see it); returns it
        with its `channel` and `ts`."""
        ch = self._resolve_channel(channel)
        if ts is None:
            ts = self.next_ts()
        else:
            self._clock_us = max(self._clock_us, _ts_key(ts)[0] * 1_000_000 + _ts_key(ts)[1])
        msg: JSONDict = {
            "client_msg_id": _short_id(f"msg{ts}") + "-fake",
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "team": self.team_id,
        }
        if blocks is not None:
            msg["blocks"] = copy.deepcopy(blocks)
        self._store(ch.id, msg, thread_ts)
        self._changed()
        return {**copy.deepcopy(msg), "channel": ch.id}

    def message_event(
        self, text: str, channel: str, user: str, *, thread_ts: str | None = None, **kw: Any
    ) -> JSONDict:
        """`add_message` + the matching `message` event_callback payload."""
        msg = self.add_message(channel, text, user, thread_ts=thread_ts)
        return events.message_event(
            text, msg["channel"], user, msg["ts"], thread_ts, team_id=self.team_id,
            api_app_id=self.app_id, bot_user_id=self.bot_user_id, **kw,
        )  # fmt: skip

    def app_mention_event(
        self, text: str, channel: str, user: str, *, thread_ts: str | None = None, **kw: Any
    ) -> JSONDict:
        """`add_message` + the matching `app_mention` event_callback payload."""
        mention = f"<@{self.bot_user_id}>"
        if not text.startswith(mention):
            text = f"{mention} {text}"
        msg = self.add_message(channel, text, user, thread_ts=thread_ts)
        return events.app_mention_event(
            text, msg["channel"], user, msg["ts"], thread_ts, team_id=self.team_id,
            api_app_id=self.app_id, bot_user_id=self.bot_user_id, **kw,
        )  # fmt: skip

    # --- inspection -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear_calls(self) -> None:
        self.calls.clear()

    def messages(self, channel: str | None = None, thread_ts: str | None = None) -> list[JSONDict]:
        """All stored messages (bot's and humans'), oldest first, each with its `channel`.
        `thread_ts` selects the replies of that thread (not its parent)."""
        out = []
        for (ch, ts), msg in sorted(self._messages.items(), key=lambda kv: _ts_key(kv[0][1])):
            if channel is not None and ch != channel:
                continue
            if thread_ts is not None and (msg.get("thread_ts") != thread_ts or ts == thread_ts):
                continue
            out.append({**copy.deepcopy(msg), "channel": ch})
        return out

    def posted(self, channel: str | None = None, thread_ts: str | None = None) -> list[JSONDict]:
        """The bot's messages as currently stored (after updates/deletes), oldest first."""
        return [m for m in self.messages(channel, thread_ts) if m.get("bot_id") == self.bot_id]

    def message(self, channel: str, ts: str) -> JSONDict | None:
        msg = self._messages.get((channel, ts))
        return None if msg is None else {**copy.deepcopy(msg), "channel": channel}

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[JSONDict]:
        """Ephemeral messages (chat.postEphemeral and ephemeral response_url replies)."""
        return [
            copy.deepcopy(e)
            for e in self._ephemerals
            if (channel is None or e["channel"] == channel) and (user is None or e["user"] == user)
        ]

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
            outcome = c.response.get("error", "ok") if isinstance(c.response, dict) else "ok"
            lines.append(f"  +{c.at - t0:.3f}s {c.method} [{c.status} {outcome}] {params}")
        return "\n".join(lines)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed()

    # --- HTTP layer -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at = time.monotonic()
        params: JSONDict = {}
        try:
            params, token = await _read_args(request)
        except _ApiError as e:
            return self._reply(method, params, at, 200, {"ok": False, "error": e.error})

        outage = self._outages.get(method)
        if outage is not None and time.monotonic() < outage.until:
            if outage.hang:
                await asyncio.sleep(outage.hang)  # longer than the client waits: a timeout
            error = {429: "ratelimited", 503: "service_unavailable"}.get(outage.status, "fatal")
            headers = {"Retry-After": "1"} if outage.status == 429 else {}
            return self._reply(
                method, params, at, outage.status, {"ok": False, "error": error}, headers
            )

        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
            body = {"ok": False, "error": fault.error}
            return self._reply(method, params, at, fault.status, body, headers)

        handler = self._methods.get(method)
        if handler is None:
            body = {"ok": False, "error": "unknown_method", "req_method": method}
            return self._reply(method, params, at, 200, body)
        if method != "api.test":
            if not token:
                return self._reply(method, params, at, 200, {"ok": False, "error": "not_authed"})
            if token != self.token:
                return self._reply(method, params, at, 200, {"ok": False, "error": "invalid_auth"})
        try:
            body = handler(params)
        except _ApiError as e:
            body = {"ok": False, "error": e.error, **e.extra}
        except Exception as e:  # a bug in the fake or an argument it cannot parse: say so
            body = {"ok": False, "error": "fake_internal_error", "detail": repr(e)}
            return self._reply(method, params, at, 500, body)
        return self._reply(method, params, at, 200, body, {"x-oauth-scopes": self.scopes})

    def _reply(
        self,
        method: str,
        params: JSONDict,
        at: float,
        status: int,
        body: JSONDict,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self._record(Call(method, params, at, status, body))
        return web.json_response(body, status=status, headers=headers)

    async def _handle_hook(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        hook = self._hooks.get(request.match_info["key"])
        try:
            body = json.loads(await request.text() or "{}")
        except json.JSONDecodeError:
            body = None
        params = body if isinstance(body, dict) else {"_raw": str(body)}
        status, text = self._apply_hook(hook, body)
        self._record(Call("response_url", params, at, status, text))
        return web.Response(status=status, text=text)

    def _apply_hook(self, hook: _Hook | None, body: Any) -> tuple[int, str]:
        if hook is None:
            return 404, "no_service"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        hook.uses += 1
        if hook.uses > RESPONSE_URL_MAX_USES:
            return 404, "used_url"
        blocks = body.get("blocks")
        if blocks is not None and _validate_blocks(blocks, 50):
            return 400, "invalid_blocks"
        target = (hook.channel, hook.message_ts or "")
        if _flag(body.get("delete_original")):
            if hook.is_ephemeral:
                self._ephemerals = [e for e in self._ephemerals if e["ts"] != hook.message_ts]
            elif target in self._messages:
                self.deleted.append(self._messages.pop(target))
            return 200, "ok"
        if _flag(body.get("replace_original")) and hook.message_ts is not None:
            if hook.is_ephemeral:
                for e in self._ephemerals:
                    if e["ts"] == hook.message_ts:
                        self._replace_content(e, body)
            elif target in self._messages:
                msg = self._messages[target]
                self._replace_content(msg, body)
                msg["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
            else:
                return 404, "message_not_found"
            return 200, "ok"
        thread_ts = body.get("thread_ts") or hook.thread_ts
        if body.get("response_type") == "in_channel":
            msg = self._bot_message(str(body.get("text") or ""), self.next_ts(), body)
            self._store(hook.channel, msg, thread_ts)
        else:
            self._add_ephemeral(hook.channel, hook.user or "", body, thread_ts)
        return 200, "ok"

    def _replace_content(self, msg: JSONDict, body: JSONDict) -> None:
        """response_url replace_original: the new message replaces text, blocks, attachments."""
        msg["text"] = str(body.get("text") or "")
        for key in ("blocks", "attachments"):
            msg.pop(key, None)
            if body.get(key):
                msg[key] = _assign_ids(body[key], msg["ts"] + "r") if key == "blocks" else body[key]

    # --- storage helpers ------------------------------------------------------------------------

    def _resolve_channel(self, channel: Any, *, allow_user: bool = False) -> FakeChannel:
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        if channel in self.channels:
            return self.channels[channel]
        if channel.startswith("#"):
            for ch in self.channels.values():
                if ch.name == channel[1:]:
                    return ch
            raise _ApiError("channel_not_found")
        if allow_user and _USER_ID.match(channel):
            dm = "D" + channel[1:]
            return self.channels.get(dm) or self.add_channel(dm, user=channel)
        if _CHANNEL_ID.match(channel):
            return self.add_channel(channel)
        raise _ApiError("channel_not_found")

    def _writable_channel(self, p: JSONDict, *, allow_user: bool = False) -> FakeChannel:
        ch = self._resolve_channel(p.get("channel"), allow_user=allow_user)
        if ch.is_archived:
            raise _ApiError("is_archived")
        if not ch.is_member and not ch.is_im:
            raise _ApiError("not_in_channel")
        return ch

    def _resolve_user(self, user_id: Any) -> FakeUser:
        if isinstance(user_id, str) and user_id in self.users:
            return self.users[user_id]
        if isinstance(user_id, str) and _USER_ID.match(user_id):
            return self.add_user(user_id)
        raise _ApiError("user_not_found")

    def _find(self, channel: str, ts: Any) -> JSONDict:
        msg = self._messages.get((channel, str(ts)))
        if msg is None:
            raise _ApiError("message_not_found")
        return msg

    def _bot_message(self, text: str, ts: str, p: JSONDict) -> JSONDict:
        msg: JSONDict = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": text,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        if p.get("blocks"):
            msg["blocks"] = _assign_ids(p["blocks"], ts)
        if p.get("attachments"):
            msg["attachments"] = copy.deepcopy(p["attachments"])
        if p.get("metadata"):
            msg["metadata"] = copy.deepcopy(p["metadata"])
        return msg

    def _store(self, channel: str, msg: JSONDict, thread_ts: Any) -> None:
        if thread_ts:
            root = str(thread_ts)
            msg["thread_ts"] = root
            parent = self._messages.get((channel, root))
            if parent is not None and root != msg["ts"]:
                msg["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = root
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if msg.get("user") not in users:
                    users.append(msg.get("user"))
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = msg["ts"]
        self._messages[(channel, msg["ts"])] = msg

    def _add_ephemeral(self, channel: str, user: str, p: JSONDict, thread_ts: Any) -> str:
        ts = self.next_ts()
        eph = self._bot_message(str(p.get("text") or ""), ts, p)
        eph.update(channel=channel, user=user)  # `user` is the one person who sees it
        if thread_ts:
            eph["thread_ts"] = str(thread_ts)
        self._ephemerals.append(eph)
        return ts

    def _content_checks(self, p: JSONDict, *, require: bool = True) -> None:
        """Slack's checks on message content: no_text, msg_too_long, blocks, metadata."""
        text = p.get("text")
        if require and not (text or p.get("blocks") or p.get("attachments")):
            raise _ApiError("no_text")
        if isinstance(text, str) and len(text) > 40000:
            raise _ApiError("msg_too_long")
        if p.get("blocks") is not None:
            if isinstance(p["blocks"], str):
                raise _ApiError("invalid_blocks_format")
            errs = _validate_blocks(p["blocks"], 50)
            if errs:
                raise _ApiError(
                    "invalid_blocks",
                    errors=errs,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errs]},
                )
        if p.get("attachments") is not None and not isinstance(p["attachments"], list):
            raise _ApiError("invalid_attachments")
        meta = p.get("metadata")
        if meta is not None and not (
            isinstance(meta, dict)
            and isinstance(meta.get("event_type"), str)
            and isinstance(meta.get("event_payload"), dict)
        ):
            raise _ApiError("invalid_metadata_format")

    def _public(self, msg: JSONDict, *, metadata: bool = True) -> JSONDict:
        out = copy.deepcopy(msg)
        if not metadata:
            out.pop("metadata", None)
        return out

    # --- Web API methods ------------------------------------------------------------------------

    def _auth_test(self, p: JSONDict) -> JSONDict:
        return {
            "ok": True,
            "url": f"{PERMALINK_BASE}/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, p: JSONDict) -> JSONDict:
        ch = self._writable_channel(p, allow_user=True)
        self._content_checks(p)
        msg = self._bot_message(str(p.get("text") or ""), self.next_ts(), p)
        if _flag(p.get("reply_broadcast")) and p.get("thread_ts"):
            msg["subtype"] = "thread_broadcast"
        self._store(ch.id, msg, p.get("thread_ts"))
        return {"ok": True, "channel": ch.id, "ts": msg["ts"], "message": self._public(msg)}

    def _chat_update(self, p: JSONDict) -> JSONDict:
        ch = self._writable_channel(p)
        msg = self._find(ch.id, p.get("ts"))
        if msg.get("bot_id") != self.bot_id:
            raise _ApiError("cant_update_message")
        self._content_checks(p, require=False)
        if all(p.get(k) is None for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")
        if p.get("text") is not None:
            msg["text"] = str(p["text"])
        # Omitted blocks/attachments are kept; an empty array removes them (as documented).
        if p.get("blocks") is not None:
            msg.pop("blocks", None)
            if p["blocks"]:
                msg["blocks"] = _assign_ids(p["blocks"], msg["ts"] + "u")
        if p.get("attachments") is not None:
            msg.pop("attachments", None)
            if p["attachments"]:
                msg["attachments"] = copy.deepcopy(p["attachments"])
        if p.get("metadata"):
            msg["metadata"] = copy.deepcopy(p["metadata"])
        msg["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
        return {
            "ok": True,
            "channel": ch.id,
            "ts": msg["ts"],
            "text": msg["text"],
            "message": self._public(msg),
        }

    def _chat_post_ephemeral(self, p: JSONDict) -> JSONDict:
        ch = self._writable_channel(p)
        user = self._resolve_user(p.get("user"))
        self._content_checks(p)
        ts = self._add_ephemeral(ch.id, user.id, p, p.get("thread_ts"))
        return {"ok": True, "message_ts": ts}

    def _chat_delete(self, p: JSONDict) -> JSONDict:
        ch = self._writable_channel(p)
        msg = self._find(ch.id, p.get("ts"))
        if msg.get("bot_id") != self.bot_id:
            raise _ApiError("cant_delete_message")
        del self._messages[(ch.id, msg["ts"])]
        root = msg.get("thread_ts")
        parent = self._messages.get((ch.id, root)) if root and root != msg["ts"] else None
        if parent is not None and parent.get("reply_count"):
            parent["reply_count"] -= 1
        self.deleted.append({**msg, "channel": ch.id})
        return {"ok": True, "channel": ch.id, "ts": msg["ts"]}

    def _chat_get_permalink(self, p: JSONDict) -> JSONDict:
        ch = self._resolve_channel(p.get("channel"))
        msg = self._find(ch.id, p.get("message_ts"))
        link = f"{PERMALINK_BASE}/archives/{ch.id}/p{msg['ts'].replace('.', '')}"
        root = msg.get("thread_ts")
        if root and root != msg["ts"]:
            link += f"?thread_ts={root}&cid={ch.id}"
        return {"ok": True, "channel": ch.id, "permalink": link}

    def _users_info(self, p: JSONDict) -> JSONDict:
        user = self._resolve_user(p.get("user"))
        return {"ok": True, "user": user.to_api(self.team_id, _flag(p.get("include_locale")))}

    def _conversations_info(self, p: JSONDict) -> JSONDict:
        ch = self._resolve_channel(p.get("channel"))
        if ch.is_private and not ch.is_member:
            raise _ApiError("channel_not_found")
        return {"ok": True, "channel": ch.to_api(self.team_id, _flag(p.get("include_locale")))}

    def _conversations_open(self, p: JSONDict) -> JSONDict:
        if p.get("channel"):
            ch = self._resolve_channel(p["channel"])
        else:
            users = [u for u in str(p.get("users") or "").split(",") if u]
            if len(users) != 1:
                raise _ApiError("invalid_arguments")  # the fake models 1:1 DMs only
            user = self._resolve_user(users[0])
            ch = self._resolve_channel(user.id, allow_user=True)
        return {"ok": True, "channel": {"id": ch.id}}

    def _page(self, items: list[JSONDict], p: JSONDict) -> JSONDict:
        """Cursor pagination as Slack does it: `limit`, opaque `cursor`, `next_cursor`."""
        offset = 0
        if p.get("cursor"):
            try:
                offset = int(base64.b64decode(str(p["cursor"])).decode().removeprefix("offset:"))
            except (ValueError, binascii.Error) as e:
                raise _ApiError("invalid_cursor") from e
        limit = int(p.get("limit") or 100) or 100
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if more else ""
        return {"messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _window(self, msgs: list[JSONDict], p: JSONDict) -> list[JSONDict]:
        inclusive = _flag(p.get("inclusive"))
        oldest = _ts_key(str(p["oldest"])) if p.get("oldest") else None
        latest = _ts_key(str(p["latest"])) if p.get("latest") else None
        out = []
        for m in msgs:
            k = _ts_key(m["ts"])
            if oldest is not None and (k < oldest or (k == oldest and not inclusive)):
                continue
            if latest is not None and (k > latest or (k == latest and not inclusive)):
                continue
            out.append(m)
        return out

    def _conversations_history(self, p: JSONDict) -> JSONDict:
        ch = self._resolve_channel(p.get("channel"))
        meta = _flag(p.get("include_all_metadata"))
        top = [
            self._public(m, metadata=meta)
            for (c, ts), m in self._messages.items()
            if c == ch.id
            and (m.get("thread_ts") in (None, ts) or m.get("subtype") == "thread_broadcast")
        ]
        top.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
        return {"ok": True, **self._page(self._window(top, p), p)}

    def _conversations_replies(self, p: JSONDict) -> JSONDict:
        ch = self._resolve_channel(p.get("channel"))
        msg = self._messages.get((ch.id, str(p.get("ts"))))
        if msg is None:
            raise _ApiError("thread_not_found")
        root = msg.get("thread_ts") or msg["ts"]
        meta = _flag(p.get("include_all_metadata"))
        thread = [
            self._public(m, metadata=meta)
            for (c, ts), m in self._messages.items()
            if c == ch.id and (ts == root or m.get("thread_ts") == root)
        ]
        thread.sort(key=lambda m: _ts_key(m["ts"]))
        return {"ok": True, **self._page(self._window(thread, p), p)}

    def _reaction_target(self, p: JSONDict) -> tuple[JSONDict, str]:
        ch = self._resolve_channel(p.get("channel"))
        name = p.get("name")
        if not isinstance(name, str) or not name or ":" in name:
            raise _ApiError("invalid_name")  # the emoji name goes without colons
        return self._find(ch.id, p.get("timestamp")), name

    def _reactions_add(self, p: JSONDict) -> JSONDict:
        msg, name = self._reaction_target(p)
        reactions = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if self.bot_user_id in entry["users"]:
            raise _ApiError("already_reacted")
        entry["users"].append(self.bot_user_id)
        entry["count"] += 1
        return {"ok": True}

    def _reactions_remove(self, p: JSONDict) -> JSONDict:
        msg, name = self._reaction_target(p)
        reactions = msg.get("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None or self.bot_user_id not in entry["users"]:
            raise _ApiError("no_reaction")
        entry["users"].remove(self.bot_user_id)
        entry["count"] -= 1
        if not entry["count"]:
            reactions.remove(entry)
        if not reactions:
            msg.pop("reactions", None)
        return {"ok": True}

    def _check_view(self, view: Any) -> JSONDict:
        if not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        errs: list[str] = []
        if view.get("type") != "modal":
            errs.append("must be a valid enum value [json-pointer:/view/type]")
        _check_text(view.get("title"), "/view/title", errs, plain=True, limit=24)
        for key in ("submit", "close"):
            if key in view:
                _check_text(view[key], f"/view/{key}", errs, plain=True, limit=24)
        errs += _validate_blocks(view.get("blocks"), 100, "/view/blocks")
        if len(str(view.get("private_metadata", ""))) > 3000:
            errs.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
        if len(str(view.get("callback_id", ""))) > 255:
            errs.append("must be less than 256 characters [json-pointer:/view/callback_id]")
        if errs:
            raise _ApiError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errs]}
            )
        return view

    def _views_open(self, p: JSONDict) -> JSONDict:
        if not p.get("trigger_id") and not p.get("interactivity_pointer"):
            raise _ApiError("invalid_arguments")
        view = self._check_view(p.get("view"))
        self._serial += 1
        view_id = f"V{self._serial:010d}"
        stored: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": _assign_ids(view.get("blocks", []), view_id),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{_short_id(view_id)}",
            "title": view["title"],
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_update(self, p: JSONDict) -> JSONDict:
        view_id = p.get("view_id")
        if not view_id and p.get("external_id"):
            view_id = next(
                (v["id"] for v in self.views.values() if v["external_id"] == p["external_id"]),
                None,
            )
        stored = self.views.get(str(view_id))
        if stored is None:
            raise _ApiError("not_found")
        if p.get("hash") and p["hash"] != stored["hash"]:
            raise _ApiError("hash_conflict")
        view = self._check_view(p.get("view"))
        stored.update(
            blocks=_assign_ids(view.get("blocks", []), stored["id"] + str(time.time())),
            title=view["title"],
            private_metadata=view.get("private_metadata", ""),
            callback_id=view.get("callback_id", ""),
            submit=view.get("submit"),
            close=view.get("close"),
            hash=f"{int(time.time())}.{_short_id(stored['hash'])}",
        )
        return {"ok": True, "view": copy.deepcopy(stored)}


async def _read_args(request: web.Request) -> tuple[JSONDict, str | None]:
    """Merge query, form and JSON arguments as Slack does; returns (params, token)."""
    params: JSONDict = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError as e:
                raise _ApiError("invalid_json") from e
            if not isinstance(body, dict):
                raise _ApiError("invalid_json")
            params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    for key in _JSON_ARGS:  # form-encoded structures arrive as JSON strings
        if isinstance(params.get(key), str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(params[key])
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    body_token = params.pop("token", None)
    return params, token or (str(body_token) if body_token else None)
