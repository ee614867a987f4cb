"""A local fake Slack for tests: Web API server, request signing and inbound payload builders."""

from .events import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    FORM,
    JSON,
    TEAM_ID,
    app_mention_event,
    block_action,
    block_action_payload,
    event_callback,
    form_body,
    json_body,
    message_event,
    post_to_app,
    slash_command,
    url_verification,
)
from .server import Call, FakeChannel, FakeSlack, FakeUser
from .signing import sign

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "FORM",
    "JSON",
    "TEAM_ID",
    "Call",
    "FakeChannel",
    "FakeSlack",
    "FakeUser",
    "app_mention_event",
    "block_action",
    "block_action_payload",
    "event_callback",
    "form_body",
    "json_body",
    "message_event",
    "post_to_app",
    "sign",
    "slash_command",
    "url_verification",
]
