"""The fake Slack answers the real slack_sdk / slack-bolt the way Slack does."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import pytest_asyncio
from aiohttp import web
from fakeslack import (
    FORM,
    JSON,
    FakeSlack,
    app_mention_event,
    block_action,
    block_action_payload,
    message_event,
    post_to_app,
    sign,
    slash_command,
    url_verification,
)
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

SECRET = "test-signing-secret"
BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*診断結果*"}},
    {
        "type": "actions",
        "block_id": "case-actions",
        "elements": [
            {
                "type": "button",
                "action_id": "case-escalate",
                "text": {"type": "plain_text", "text": "担当者へ"},
                "value": "case-1",
            },
            {
                "type": "button",
                "action_id": "case-close",
                "text": {"type": "plain_text", "text": "解決"},
                "value": "case-1",
            },
        ],
    },
]


@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="function")
async def client(fake: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    web_client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
    yield web_client
    if web_client.session is not None:
        await web_client.session.close()


# --- Web API through slack_sdk ----------------------------------------------------------------


async def test_auth_test(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert (resp["user_id"], resp["bot_id"], resp["team_id"]) == ("UBOT", "BBOT", "T1")
    assert resp["url"] == "https://fake.slack/"
    assert "chat:write" in resp.headers["x-oauth-scopes"]
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/api/")
    assert [c.method for c in fake.calls] == ["auth.test"]


async def test_post_message_with_blocks_thread_and_metadata(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C100", text="ケース #1")
    assert parent["ts"] == "1700000000.000100"
    meta = {"event_type": "case_opened", "event_payload": {"case_id": "case-1"}}
    reply = await client.chat_postMessage(
        channel="C100", text="診断結果", blocks=BUTTONS, thread_ts=parent["ts"], metadata=meta
    )
    assert reply["ok"] and reply["channel"] == "C100"
    assert reply["ts"] > parent["ts"]
    message = reply["message"]
    assert message["ts"] == reply["ts"] and message["thread_ts"] == parent["ts"]
    assert message["text"] == "診断結果" and message["metadata"] == meta
    assert (message["user"], message["bot_id"]) == ("UBOT", "BBOT")
    assert message["blocks"][1]["elements"][0]["action_id"] == "case-escalate"
    assert message["blocks"][0]["block_id"]  # Slack assigns missing block_ids

    assert [m["ts"] for m in fake.posted("C100")] == [parent["ts"], reply["ts"]]
    assert [m["ts"] for m in fake.posted("C100", thread_ts=parent["ts"])] == [reply["ts"]]
    stored_parent = fake.posted("C100")[0]
    assert stored_parent["reply_count"] == 1 and stored_parent["latest_reply"] == reply["ts"]
    call = fake.calls_to("chat.postMessage")[1]
    assert call.params["thread_ts"] == parent["ts"] and call.params["blocks"] == BUTTONS


async def test_timestamps_are_unique_and_increasing(client: AsyncWebClient) -> None:
    results = await asyncio.gather(
        *(client.chat_postMessage(channel="C1", text=str(i)) for i in range(20))
    )
    stamps = [r["ts"] for r in results]
    assert len(set(stamps)) == 20
    assert sorted(stamps, key=lambda t: tuple(map(int, t.split(".")))) == sorted(stamps)


async def test_update_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="確認中…", blocks=BUTTONS)
    resp = await client.chat_update(channel="C1", ts=posted["ts"], text="完了")
    assert resp["ok"] and resp["ts"] == posted["ts"] and resp["text"] == "完了"
    stored = fake.posted("C1")[0]
    assert stored["text"] == "完了" and "edited" in stored
    assert len(stored["blocks"]) == 2  # omitted blocks are retained, as documented

    await client.chat_update(channel="C1", ts=posted["ts"], text="完了", blocks=[])
    assert "blocks" not in fake.posted("C1")[0]

    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts="1.000000", text="x")
    assert err.value.response["error"] == "message_not_found"


async def test_users_info_locale(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("U2", name="alice", locale="en-US")
    jp = await client.users_info(user="U1", include_locale=True)
    assert jp["user"]["id"] == "U1" and jp["user"]["locale"] == "ja-JP"
    assert jp["user"]["tz"] == "Asia/Tokyo" and jp["user"]["tz_offset"] == 32400
    en = await client.users_info(user="U2", include_locale=True)
    assert en["user"]["locale"] == "en-US" and en["user"]["name"] == "alice"
    plain = await client.users_info(user="U2")
    assert "locale" not in plain["user"]
    assert fake.calls_to("users.info")[0].params == {"user": "U1", "include_locale": "1"}
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="nobody")
    assert err.value.response["error"] == "user_not_found"


async def test_bad_or_missing_token(fake: FakeSlack) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.base_url)
    with pytest.raises(SlackApiError) as err:
        await bad.chat_postMessage(channel="C1", text="hi")
    assert err.value.response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=fake.base_url)
    with pytest.raises(SlackApiError) as err:
        await anonymous.auth_test()
    assert err.value.response["error"] == "not_authed"
    assert fake.posted() == []
    assert [c.method for c in fake.calls] == ["chat.postMessage", "auth.test"]


async def test_form_encoded_arguments_and_token_param(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    resp = await client.api_call(
        "chat.postMessage",
        data={"token": fake.token, "channel": "C1", "text": "t", "blocks": json.dumps(BUTTONS)},
        headers={"Authorization": ""},
    )
    assert resp["message"]["blocks"][1]["block_id"] == "case-actions"
    assert fake.calls_to("chat.postMessage")[0].params["blocks"] == BUTTONS
    assert "token" not in fake.calls_to("chat.postMessage")[0].params


async def test_rate_limited_then_retried(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", 429, retry_after=1)
    client = AsyncWebClient(
        token=fake.token,
        base_url=fake.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    started = time.monotonic()
    resp = await client.chat_postMessage(channel="C1", text="hello")
    assert resp["ok"] and time.monotonic() - started >= 1.0
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, first.response["error"]) == (429, "ratelimited")
    assert second.status == 200 and second.at - first.at >= 1.0
    assert [m["text"] for m in fake.posted()] == ["hello"]


async def test_rate_limited_without_retry_handler(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", 429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="hello")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"
    assert (await client.chat_postMessage(channel="C1", text="hello"))["ok"]  # only once


async def test_server_errors_then_retried(fake: FakeSlack) -> None:
    fake.fail_next("users.info", 500, times=2)
    client = AsyncWebClient(
        token=fake.token,
        base_url=fake.base_url,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=2)],
    )
    resp = await client.users_info(user="U1")
    assert resp["ok"]
    assert [c.status for c in fake.calls_to("users.info")] == [500, 500, 200]


async def test_injected_api_error(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("views.open", 200, error="expired_trigger_id")
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id="t", view=_modal())
    assert err.value.response["error"] == "expired_trigger_id"


async def test_unknown_method_is_recorded(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.api_call("assistant.threads.setStatus", json={"channel_id": "C1"})
    assert err.value.response["error"] == "unknown_method"
    assert fake.calls_to("assistant.threads.setStatus")[0].params == {"channel_id": "C1"}


async def test_message_content_is_validated(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err, pytest.warns(UserWarning):
        await client.chat_postMessage(channel="C1", text="")
    assert err.value.response["error"] == "no_text"
    too_long = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "x" * 76}, "value": "v"}
            ],
        }
    ]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="t", blocks=too_long)
    assert err.value.response["error"] == "invalid_blocks"
    assert "75" in err.value.response["errors"][0] or "76" in err.value.response["errors"][0]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="not-a-channel", text="t")
    assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="t", metadata={"event_type": "x"})
    assert err.value.response["error"] == "invalid_metadata_format"


async def test_threads_permalinks_reactions_ephemeral_delete(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    question = fake.add_message("C1", "メールが届きません", "U1")
    answer = await client.chat_postMessage(channel="C1", text="調べます", thread_ts=question["ts"])
    replies = await client.conversations_replies(channel="C1", ts=question["ts"])
    assert [m["text"] for m in replies["messages"]] == ["メールが届きません", "調べます"]
    assert replies["messages"][0]["reply_count"] == 1
    assert replies["messages"][1]["parent_user_id"] == "U1"
    meta = {"event_type": "case_step", "event_payload": {"step": 2}}
    await client.chat_postMessage(channel="C1", text="2", thread_ts=question["ts"], metadata=meta)
    plain = await client.conversations_replies(channel="C1", ts=question["ts"])
    assert "metadata" not in plain["messages"][-1]  # only with include_all_metadata, as Slack
    full = await client.conversations_replies(
        channel="C1", ts=question["ts"], include_all_metadata=True, limit=2
    )
    assert full["has_more"] and full["response_metadata"]["next_cursor"]
    rest = await client.conversations_replies(
        channel="C1",
        ts=question["ts"],
        include_all_metadata=True,
        cursor=full["response_metadata"]["next_cursor"],
    )
    assert rest["messages"][-1]["metadata"] == meta and not rest["has_more"]

    link = await client.chat_getPermalink(channel="C1", message_ts=answer["ts"])
    digits = answer["ts"].replace(".", "")
    assert link["permalink"] == (
        f"https://fake.slack/archives/C1/p{digits}?thread_ts={question['ts']}&cid=C1"
    )

    assert (await client.reactions_add(channel="C1", name="eyes", timestamp=question["ts"]))["ok"]
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(channel="C1", name="eyes", timestamp=question["ts"])
    assert err.value.response["error"] == "already_reacted"
    assert fake.messages("C1")[0]["reactions"] == [{"name": "eyes", "users": ["UBOT"], "count": 1}]

    eph = await client.chat_postEphemeral(channel="C1", user="U1", text="あなただけに")
    assert eph["ok"] and eph["message_ts"]
    assert [e["text"] for e in fake.ephemerals(user="U1")] == ["あなただけに"]

    deleted = await client.chat_delete(channel="C1", ts=answer["ts"])
    assert deleted["ok"] and [m["text"] for m in fake.posted()] == ["2"]
    assert fake.deleted[0]["ts"] == answer["ts"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_delete(channel="C1", ts=question["ts"])
    assert err.value.response["error"] == "cant_delete_message"


async def test_conversations_info_and_open(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C9", "mail-help", locale="en-US")
    info = await client.conversations_info(channel="C9", include_locale=True)
    assert info["channel"]["name"] == "mail-help" and info["channel"]["locale"] == "en-US"
    assert info["channel"]["is_channel"] and not info["channel"]["is_im"]
    dm = await client.conversations_open(users="U5")
    im = await client.conversations_info(channel=dm["channel"]["id"])
    assert im["channel"]["is_im"] and im["channel"]["user"] == "U5"
    posted = await client.chat_postMessage(channel="U5", text="DM")  # user ID → the IM
    assert posted["channel"] == dm["channel"]["id"]


def _modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "case-form",
        "title": {"type": "plain_text", "text": "問い合わせ"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "詳細"}}],
    }


async def test_views_open(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.views_open(trigger_id="123.456.abc", view=_modal())
    assert resp["view"]["id"].startswith("V") and resp["view"]["callback_id"] == "case-form"
    assert fake.views[resp["view"]["id"]]["title"]["text"] == "問い合わせ"
    bad = {**_modal(), "title": {"type": "plain_text", "text": "x" * 30}}
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id="123.456.abc", view=bad)
    assert err.value.response["error"] == "invalid_arguments"


async def test_wait_for(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await client.chat_postMessage(channel="C1", text="done")

    task = asyncio.create_task(later())
    posted = await fake.wait_for(lambda f: f.posted("C1"), timeout=5)
    assert posted[0]["text"] == "done"
    await task
    assert await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    with pytest.raises(AssertionError, match=r"chat\.postMessage"):
        await fake.wait_for(lambda f: len(f.posted()) > 1, timeout=0.2)


# --- signing and inbound payloads ---------------------------------------------------------------


def test_sign_matches_slack_sdk_verifier() -> None:
    body = json.dumps(url_verification("abc")).encode()
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert headers["X-Slack-Signature"] == verifier.generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=body
    )
    assert not verifier.is_valid(
        body + b" ", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    stale = sign(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid(
        body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"]
    )


def test_payload_shapes() -> None:
    event = message_event("hi", "C1", "U1", "1700000001.000100", thread_ts="1700000000.000100")
    assert event["type"] == "event_callback" and event["event_id"].startswith("Ev")
    assert event["authorizations"][0]["user_id"] == "UBOT"
    assert event["event"]["channel_type"] == "channel" and event["event"]["thread_ts"]
    assert message_event("hi", "D1", "U1", "1.0")["event"]["channel_type"] == "im"
    mention = app_mention_event("help", "C1", "U1", "1.0")["event"]
    assert mention["type"] == "app_mention" and mention["text"] == "<@UBOT> help"

    form = parse_qs(
        block_action("case-close", "case-1", "C1", "5.0", "U1", thread_ts="4.0").decode()
    )
    payload = json.loads(form["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "5.0",
        "channel_id": "C1",
        "is_ephemeral": False,
        "thread_ts": "4.0",
    }
    assert payload["message"]["thread_ts"] == "4.0" and payload["message"]["ts"] == "5.0"
    action = payload["actions"][0]
    assert (action["action_id"], action["value"], action["type"]) == (
        "case-close",
        "case-1",
        "button",
    )

    command = parse_qs(slash_command(text="example.jp", channel="C1", user="U1").decode())
    assert command["command"] == ["/mail-doctor"] and command["text"] == ["example.jp"]
    assert command["channel_id"] == ["C1"] and "thread_ts" not in command


# --- end to end: Slack → Bolt app → fake Web API --------------------------------------------


@pytest_asyncio.fixture(loop_scope="function")
async def bolt(fake: FakeSlack) -> AsyncIterator[str]:
    """A minimal Bolt app served over HTTP, talking to the fake; yields its /slack/events URL."""
    app = AsyncApp(
        client=AsyncWebClient(token=fake.token, base_url=fake.base_url),
        signing_secret=SECRET,
    )

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        await say(text=f"echo: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"])

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="呼びましたか", thread_ts=event.get("thread_ts") or event["ts"])

    @app.action("case-close")
    async def on_close(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(text=f"closed {body['actions'][0]['value']}", replace_original=True)

    @app.command("/mail-doctor")
    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(text=f"checking {command['text']}", response_type="in_channel")

    runner = web.AppRunner(app.web_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    await runner.cleanup()
    if app.client.session is not None:
        await app.client.session.close()


async def test_bolt_verifies_requests(bolt: str) -> None:
    status, text, _ = await post_to_app(bolt, url_verification("c-123"), None, SECRET)
    assert status == 200 and json.loads(text) == {"challenge": "c-123"}
    body = url_verification("c-123")
    assert (await post_to_app(bolt, body, JSON, SECRET, bad_signature=True))[0] == 401
    stale = int(time.time()) - 600
    assert (await post_to_app(bolt, body, JSON, SECRET, timestamp=stale))[0] == 401


async def test_bolt_message_reply_in_thread(fake: FakeSlack, bolt: str) -> None:
    status, _, _ = await post_to_app(bolt, fake.message_event("ping", "D1", "U1"), JSON, SECRET)
    assert status == 200
    replies = await fake.wait_for(lambda f: f.posted("D1"))
    question = fake.messages("D1")[0]
    assert replies[0]["text"] == "echo: ping" and replies[0]["thread_ts"] == question["ts"]
    assert len(fake.calls_to("auth.test")) == 1  # Bolt authorizes against the fake

    mention = fake.app_mention_event("help", "C1", "U1")
    retried = await post_to_app(bolt, mention, JSON, SECRET, retry_num=1)
    assert retried[0] == 200
    await fake.wait_for(lambda f: any(m["text"] == "呼びましたか" for m in f.posted("C1")))

    own = message_event("echo: ping", "D1", "UBOT", fake.next_ts(), bot_id="BBOT")
    assert (await post_to_app(bolt, own, JSON, SECRET))[0] == 200
    await asyncio.sleep(0.2)
    assert len(fake.posted("D1")) == 1  # IgnoringSelfEvents dropped the bot's own message


async def test_bolt_button_and_slash_command(
    fake: FakeSlack, client: AsyncWebClient, bolt: str
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="診断結果", blocks=BUTTONS)
    message = fake.posted("C1")[0]
    payload = block_action_payload(
        "case-close",
        "case-1",
        "C1",
        posted["ts"],
        "U1",
        message=message,
        response_url=fake.response_url("C1", posted["ts"], user="U1"),
    )
    assert payload["actions"][0]["block_id"] == "case-actions"
    body = block_action(
        "case-close", "case-1", "C1", posted["ts"], "U1",
        message=message, response_url=payload["response_url"],
    )  # fmt: skip
    status, _, _ = await post_to_app(bolt, body, FORM, SECRET)
    assert status == 200
    await fake.wait_for(lambda f: f.posted("C1")[0]["text"] == "closed case-1")
    assert "blocks" not in fake.posted("C1")[0]  # replace_original replaces the whole message
    assert fake.calls_to("response_url")[0].params["replace_original"] is True

    command = slash_command(
        text="example.jp", channel="C1", user="U1", response_url=fake.response_url("C1", user="U1")
    )
    status, _, _ = await post_to_app(bolt, command, FORM, SECRET)
    assert status == 200
    await fake.wait_for(lambda f: len(f.posted("C1")) == 2)
    assert fake.posted("C1")[1]["text"] == "checking example.jp"
