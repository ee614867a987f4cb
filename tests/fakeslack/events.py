"""Payloads Slack POSTs to an app's request URL, and a sender that signs them as Slack does.

Events API requests are JSON (`event_callback`, `url_verification`); interactive requests are a
form body with one `payload=<JSON>` field; slash commands are a flat form body.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict

from .signing import SIGNATURE_HEADER, sign

# Workspace identity shared with FakeSlack's defaults.
TEAM_ID = "T1"
TEAM_DOMAIN = "fake"
APP_ID = "A1"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
VERIFICATION_TOKEN = "fake-verification-token"  # the deprecated `token` field Slack still sends

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_counter = itertools.count(1)


def new_event_id() -> str:
    """A unique `event_id` shaped like Slack's (`Ev` + upper-case alphanumerics)."""
    return f"Ev{next(_counter):04d}{secrets.token_hex(3).upper()}"


def new_trigger_id() -> str:
    """A unique `trigger_id` shaped like Slack's (`<digits>.<digits>.<hex>`)."""
    return f"{next(_counter):011d}.{int(time.time())}.{secrets.token_hex(16)}"


def _default_response_url(kind: str, team_id: str) -> str:
    # Points nowhere reachable; use FakeSlack.response_url() for a working one.
    return f"https://hooks.slack.com/{kind}/{team_id}/{next(_counter)}/{secrets.token_hex(12)}"


def channel_type_of(channel: str) -> str:
    """`channel_type` Slack reports for a conversation ID: D… im, G… group, else channel."""
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")


def event_callback(
    event: Mapping[str, Any],
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """Wrap any event in the Events API `event_callback` envelope."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_urlsafe(24)}",
    }


def _message_fields(
    kind: str, text: str, channel: str, user: str, ts: str, thread_ts: str | None, team_id: str
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "client_msg_id": secrets.token_hex(16),
        "type": kind,
        "text": text,
        "user": user,
        "ts": ts,
        "team": team_id,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def message_event(
    text: str,
    channel: str,
    user: str,
    ts: str,
    thread_ts: str | None = None,
    channel_type: str | None = None,
    event_id: str | None = None,
    *,
    parent_user_id: str | None = None,
    bot_id: str | None = None,
    subtype: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`message` event_callback. `channel_type` defaults from the ID (D… "im", C… "channel");
    `bot_id` marks a bot's post (what IgnoringSelfEvents drops); `extra` merges into the event."""
    event = _message_fields("message", text, channel, user, ts, thread_ts, team_id)
    event["channel_type"] = channel_type or channel_type_of(channel)
    if thread_ts is not None and parent_user_id is not None:
        event["parent_user_id"] = parent_user_id
    if bot_id is not None:
        event.pop("client_msg_id")
        event["bot_id"] = bot_id
        event["app_id"] = api_app_id
    if subtype is not None:
        event["subtype"] = subtype
    event.update(extra or {})
    return event_callback(
        event,
        event_id=event_id,
        event_time=event_time,
        team_id=team_id,
        api_app_id=api_app_id,
        bot_user_id=bot_user_id,
    )


def app_mention_event(
    text: str,
    channel: str,
    user: str,
    ts: str,
    thread_ts: str | None = None,
    event_id: str | None = None,
    *,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`app_mention` event_callback; `<@UBOT> ` is prepended unless `text` already starts with it.
    (Slack's app_mention events carry no `channel_type`.)"""
    mention = f"<@{bot_user_id}>"
    if not text.startswith(mention):
        text = f"{mention} {text}"
    event = _message_fields("app_mention", text, channel, user, ts, thread_ts, team_id)
    event.update(extra or {})
    return event_callback(
        event,
        event_id=event_id,
        event_time=event_time,
        team_id=team_id,
        api_app_id=api_app_id,
        bot_user_id=bot_user_id,
    )


def url_verification(challenge: str) -> dict[str, Any]:
    """The handshake Slack sends when the request URL is configured."""
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def json_body(payload: Mapping[str, Any]) -> bytes:
    """Encode an Events API payload as Slack does (compact UTF-8 JSON)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def form_body(payload: Mapping[str, Any]) -> bytes:
    """Encode an interactive payload as Slack does: `payload=<url-encoded JSON>`."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def _find_button(blocks: list[Any], action_id: str) -> tuple[str | None, dict[str, Any] | None]:
    """(block_id, element) of the element with `action_id`, looking in actions and accessories."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def block_action_payload(
    action_id: str,
    value: str,
    channel: str,
    message_ts: str,
    user: str,
    thread_ts: str | None = None,
    trigger_id: str | None = None,
    *,
    block_id: str | None = None,
    message: Mapping[str, Any] | None = None,
    button_text: str | None = None,
    response_url: str | None = None,
    is_ephemeral: bool = False,
    user_name: str | None = None,
    channel_name: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    bot_id: str = BOT_ID,
) -> dict[str, Any]:
    """The decoded `block_actions` payload for a button click on message `message_ts`.

    Pass `message` (e.g. an entry of `FakeSlack.posted()`) to click a button of a real stored
    message: its text, blocks and thread_ts are used and `block_id` is looked up. Ephemeral
    messages come without a `message` object, as from Slack."""
    if message is not None:
        msg = {k: v for k, v in message.items() if k != "channel"}
        thread_ts = thread_ts or msg.get("thread_ts")
    else:
        msg = {
            "type": "message",
            "user": bot_user_id,
            "bot_id": bot_id,
            "app_id": api_app_id,
            "team": team_id,
            "text": "",
            "ts": message_ts,
            "blocks": [
                {
                    "type": "actions",
                    "block_id": block_id or "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": action_id,
                            "text": {"type": "plain_text", "text": button_text or value},
                            "value": value,
                        }
                    ],
                }
            ],
        }
        if thread_ts is not None:
            msg["thread_ts"] = thread_ts
    found_block, element = _find_button(list(msg.get("blocks") or []), action_id)
    if button_text is None:
        text_obj = (element or {}).get("text")
        button_text = text_obj.get("text", value) if isinstance(text_obj, dict) else value
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": is_ephemeral,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
    name = user_name or user.lower()
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": name, "name": name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {
            "id": channel,
            "name": channel_name or ("directmessage" if channel.startswith("D") else channel),
        },
        "state": {"values": {}},
        "response_url": response_url or _default_response_url("actions", team_id),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id or found_block or "actions",
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if not is_ephemeral:
        payload["message"] = msg
    return payload


def block_action(
    action_id: str,
    value: str,
    channel: str,
    message_ts: str,
    user: str,
    thread_ts: str | None = None,
    trigger_id: str | None = None,
    **kwargs: Any,
) -> bytes:
    """Form body (`payload=…`) of a button click; keyword options as `block_action_payload`."""
    return form_body(
        block_action_payload(
            action_id, value, channel, message_ts, user, thread_ts, trigger_id, **kwargs
        )
    )


def slash_command(
    command: str = "/mail-doctor",
    text: str = "",
    *,
    channel: str,
    user: str,
    user_name: str | None = None,
    channel_name: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
) -> bytes:
    """Form body of a slash command invocation (no thread_ts: commands never run in threads)."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel,
        "channel_name": channel_name
        or ("directmessage" if channel.startswith("D") else channel.lower()),
        "user_id": user,
        "user_name": user_name or user.lower(),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or _default_response_url("commands", team_id),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields).encode()


async def post_to_app(
    url: str,
    body: bytes | Mapping[str, Any],
    content_type: str | None,
    secret: str,
    *,
    retry_num: int | None = None,
    retry_reason: str | None = None,
    timestamp: int | None = None,
    bad_signature: bool = False,
    timeout: float = 10.0,
) -> tuple[int, str, CIMultiDict[str]]:
    """POST a signed request to the app the way Slack delivers it.

    A mapping `body` is JSON-encoded; `content_type=None` infers JSON or form from the body.
    `retry_num` adds `X-Slack-Retry-Num`/`X-Slack-Retry-Reason` (reason default "http_timeout");
    `timestamp` signs with that time (e.g. a stale one); `bad_signature` sends a wrong signature.
    Returns (status, response text, response headers)."""
    raw = json_body(body) if isinstance(body, Mapping) else body
    if content_type is None:
        content_type = JSON if raw.lstrip().startswith(b"{") else FORM
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        **sign(secret, raw, timestamp),
    }
    if bad_signature:
        headers[SIGNATURE_HEADER] = sign(secret + "-wrong", raw, timestamp)[SIGNATURE_HEADER]
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(url, data=raw, headers=headers) as resp,
    ):
        return resp.status, await resp.text(), CIMultiDict(resp.headers)
