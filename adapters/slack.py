"""Slack, on slack-bolt: DMs, mentions and helpdesk channels with one case per thread.

The adapter only translates. A Slack event becomes a neutral Inbound; the dialogue's Outbound
messages become chat.postMessage / chat.update calls in the case's thread, with Block Kit buttons
for choices and message metadata naming the step and case. Every request is acknowledged at once;
the dialogue (and its probes) run afterwards in a task of their own.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.delivery import with_backoff
from adapters.observing import ApiEvents, Unwatched
from adapters.text import inert
from conversations.events import Choice, ConversationKey, Inbound, Outbound, Undelivered

log = logging.getLogger(__name__)

CHOICE_ACTION = "md_choice"
METADATA_EVENT = "mail_doctor_step"
# Message subtypes that are not a person talking (edits, deletions, joins, the bot itself).
_SKIPPED_SUBTYPES = {"message_changed", "message_deleted", "channel_join", "bot_message"}
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")


class Dialogue(Protocol):
    """What the adapter needs of the dialogue (conversations.dialogue.Dialogue has it)."""

    async def handle(self, event: Inbound, send: Callable[[Outbound], Awaitable[None]]) -> None: ...

    async def status(self, key: ConversationKey) -> str | None: ...

    async def step(self, key: ConversationKey) -> str | None: ...


@dataclass
class SlackSettings:
    bot_token: str
    signing_secret: str | None  # None with Socket Mode, where requests are not signed
    api_url: str = "https://slack.com/api/"
    escalation_channel: str | None = None
    keyword_cases: bool = True  # open a case for a channel message that reads as a mail problem
    app_token: str | None = None  # xapp-…: Socket Mode instead of the Events API over HTTP
    api_timeout: float = 10.0  # seconds one Web API call may take
    delivery_deadline: float = 60.0  # seconds a reply is retried while Slack is down


@dataclass
class _Thread:
    """Where a conversation's replies go, and the messages it may edit later."""

    channel: str
    thread_ts: str | None
    refs: dict[str, str] = field(default_factory=dict)  # Outbound.ref -> message ts
    question_ts: str | None = None  # the last message with buttons


class _Counted(AsyncRetryHandler):
    """A slack_sdk retry handler that reports each retry it makes."""

    def __init__(self, inner: AsyncRetryHandler, reason: str, events: ApiEvents) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner, self.reason, self.events = inner, reason, events

    async def can_retry_async(self, **kwargs: Any) -> bool:
        return await self.inner.can_retry_async(**kwargs)

    async def prepare_for_next_attempt_async(self, **kwargs: Any) -> None:
        self.events.api_retry("slack", self.reason)
        await self.inner.prepare_for_next_attempt_async(**kwargs)


# What a Web API call raises when Slack refuses it or cannot be reached.
_FAILURES = (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def _error(exc: BaseException) -> str:
    """Slack's error code, or the kind of failure when Slack did not answer."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def _retry_reason(exc: BaseException) -> tuple[str, float | None] | None:
    """Whether a failed Web API call is worth another try, why, and how long Slack asked to
    wait. Errors Slack answered with 200 (channel_not_found, …) are final."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        if status == 429:
            headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
            after = headers.get("retry-after")
            asked = float(after[0] if isinstance(after, list) else after) if after else None
            return "rate_limited", asked
        return ("server_error", None) if status >= 500 else None
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return "connection", None
    return None


class SlackAdapter:
    def __init__(
        self,
        settings: SlackSettings,
        dialogue: Dialogue,
        claim: Callable[[str], Awaitable[bool]],
        reads_as_problem: Callable[[str], bool] = lambda text: False,
        events: ApiEvents | None = None,
    ) -> None:
        self.settings = settings
        self.events: ApiEvents = events or Unwatched()
        self.dialogue = dialogue
        self.claim = claim  # once-only claim of an id, shared by every replica (the store)
        self.reads_as_problem = reads_as_problem
        client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.api_url,
            timeout=int(max(1, settings.api_timeout)),
            retry_handlers=[
                _Counted(AsyncConnectionErrorRetryHandler(), "connection", self.events),
                _Counted(
                    AsyncRateLimitErrorRetryHandler(max_retry_count=3), "rate_limited", self.events
                ),
                _Counted(
                    AsyncServerErrorRetryHandler(max_retry_count=2), "server_error", self.events
                ),
            ],
        )
        self.app = AsyncApp(
            client=client,
            signing_secret=settings.signing_secret,
            # Socket Mode messages come over our own authenticated WebSocket, unsigned.
            request_verification_enabled=settings.signing_secret is not None,
        )
        self.client = client
        self._threads: dict[str, _Thread] = {}
        self._locales: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._bot_user: str | None = None
        self._register()

    # -- wiring -------------------------------------------------------------------------------

    def _register(self) -> None:
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_message)
        self.app.action(re.compile(rf"^{CHOICE_ACTION}(_\d+)?$"))(self._on_choice)
        self.app.command("/mail-doctor")(self._on_command)

    def _later(self, work: Awaitable[None]) -> None:
        """Run after the acknowledgement; keep a reference so the task is not collected."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack: handling failed", exc_info=task.exception())

    def socket_mode(self, web_client: AsyncWebClient | None = None) -> AsyncSocketModeHandler:
        """A Socket Mode connection for this app (SLACK_APP_TOKEN): events without a public URL."""
        assert self.settings.app_token is not None
        return AsyncSocketModeHandler(
            self.app, self.settings.app_token, web_client=web_client or self.client
        )

    async def drain(self) -> None:
        """Wait for the work started by events (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def bot_user(self) -> str:
        """The bot's user id ("" while Slack cannot say: then no message reads as a mention)."""
        if self._bot_user is None:
            try:
                self._bot_user = str((await self.client.auth_test())["user_id"])
            except _FAILURES as exc:
                log.warning("slack: auth.test failed: %s", _error(exc))
                return ""
        return self._bot_user

    # -- events ----------------------------------------------------------------------------------

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("bot_id") or event.get("subtype") in _SKIPPED_SUBTYPES:
            return
        self._later(self._message(event, body))

    async def _message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if not (channel and ts and user):
            return
        # app_mention and message arrive for one post: the first one wins (dedupe on channel+ts).
        if not await self.claim(f"slack:msg:{channel}:{ts}"):
            return
        team = str(body.get("team_id") or event.get("team") or "-")
        text = str(event.get("text") or "")
        mentioned = f"<@{await self.bot_user()}>" in text
        text = _from_slack(_MENTION.sub("", text)).strip()
        if event.get("channel_type") == "im":
            key = ConversationKey("slack", team, channel, "-", user)
            thread = _Thread(channel, None)
        else:
            root = event.get("thread_ts") or ts
            key = ConversationKey("slack", team, channel, root, "-")
            thread = _Thread(channel, root)
            status = await self.dialogue.status(key)
            if status == "escalated" and not mentioned:
                return  # a person has the case now; the bot listens only for "@mail-doctor resume"
            wanted = status is not None or mentioned
            if not (wanted or (self.settings.keyword_cases and self.reads_as_problem(text))):
                return  # a channel message that is not for us
        self._threads.setdefault(str(key), thread)
        locale = await self._locale(user)
        inbound = Inbound(
            key,
            text=text or None,
            event_id=f"slack:{channel}:{ts}",
            locale=locale,
            sender=str(user),
        )
        await self.dialogue.handle(inbound, self._send)

    async def _on_choice(self, ack: Callable[[], Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        self._later(self._choice(body))

    async def _choice(self, body: dict[str, Any]) -> None:
        action = body["actions"][0]
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        message_ts = message.get("ts")
        user = (body.get("user") or {}).get("id", "-")
        if not (channel and message_ts):
            return
        # One answer per question: a second click (or person) on the same buttons is dropped.
        if not await self.claim(f"slack:click:{channel}:{message_ts}"):
            return
        value, label = action.get("value", ""), (action.get("text") or {}).get("text", "")
        asked = str(action.get("block_id") or "").removeprefix(_STEP_BLOCK)
        team = str((body.get("team") or {}).get("id") or "-")
        root = message.get("thread_ts")
        if body.get("channel", {}).get("name") == "directmessage" or channel.startswith("D"):
            key = ConversationKey("slack", team, channel, "-", user)
            thread = _Thread(channel, None)
        else:
            key = ConversationKey("slack", team, channel, root or message_ts, "-")
            thread = _Thread(channel, root or message_ts)
        self._threads.setdefault(str(key), thread)
        current = await self.dialogue.step(key)
        if asked and current is not None and not _same_question(asked, current):
            await self._replace_buttons(channel, message, "—")  # a question already passed
            return
        await self._replace_buttons(channel, message, label or value)
        inbound = Inbound(
            key,
            value=value,
            sender=user,
            event_id=f"slack:choice:{channel}:{message_ts}",
            locale=await self._locale(user),
        )
        await self.dialogue.handle(inbound, self._send)

    async def _replace_buttons(self, channel: str, message: dict[str, Any], answer: str) -> None:
        blocks = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
        blocks.append(_answer_block(answer))
        try:
            await self.client.chat_update(
                channel=channel, ts=message["ts"], blocks=blocks, text=message.get("text", "")
            )
        except _FAILURES as exc:
            self.events.api_error("slack", _error(exc))
            log.warning("slack: could not replace the buttons: %s", _error(exc))

    async def _on_command(
        self, ack: Callable[..., Awaitable[None]], command: dict[str, Any], respond: Any
    ) -> None:
        await ack()
        self._later(self._command(command, respond))

    async def _command(self, command: dict[str, Any], respond: Any) -> None:
        channel, user = command["channel_id"], command.get("user_id", "-")
        team = str(command.get("team_id") or "-")
        locale = await self._locale(user)
        japanese = locale.startswith("ja")
        text = _from_slack(str(command.get("text") or "")).strip()
        event_id = f"slack:cmd:{command.get('trigger_id') or channel}"
        if channel.startswith("D"):
            # In a DM the conversation is the DM itself, as for typed messages.
            key = ConversationKey("slack", team, channel, "-", user)
            self._threads.setdefault(str(key), _Thread(channel, None))
        else:
            # Slash commands cannot be used inside threads: the case gets a thread of its own.
            opening = "メールの相談を始めます" if japanese else "Opening a mail case"
            try:
                root = await self.client.chat_postMessage(
                    channel=channel, text=f"{opening} (<@{user}>)"
                )
            except _FAILURES as exc:
                self.events.api_error("slack", _error(exc))
                log.warning("slack: /mail-doctor in %s: %s", channel, _error(exc))
                await respond(
                    "このチャンネルに mail-doctor を招待してください(/invite @mail-doctor)。"
                    if japanese
                    else "Please invite mail-doctor to this channel first (/invite @mail-doctor)."
                )
                return
            key = ConversationKey("slack", team, channel, str(root["ts"]), "-")
            self._threads[str(key)] = _Thread(channel, str(root["ts"]))
            event_id = f"slack:cmd:{root['ts']}"
        inbound = Inbound(key, text=text or "help", event_id=event_id, locale=locale, sender=user)
        await self.dialogue.handle(inbound, self._send)

    async def _locale(self, user: str) -> str:
        if user not in self._locales:
            try:
                info = await self.client.users_info(user=user, include_locale=True)
                self._locales[user] = str(info["user"].get("locale") or "ja-JP")
            except _FAILURES:
                return "ja-JP"  # not remembered: asked again next time
        return self._locales[user]

    # -- outbound ----------------------------------------------------------------------------------

    def sender(self, key: ConversationKey) -> Callable[[Outbound], Awaitable[None]] | None:
        """How to reply in `key`'s conversation (for work another replica left unfinished)."""
        return self._send if key.platform == "slack" else None

    def _thread(self, key: str) -> _Thread | None:
        """Where replies for `key` go: known from the event, or read from the key itself (a
        conversation another replica started)."""
        if key not in self._threads:
            parsed = ConversationKey.parse(key)
            if parsed is None or parsed.platform != "slack":
                return None
            thread_ts = None if parsed.thread == "-" else parsed.thread
            self._threads[key] = _Thread(parsed.channel, thread_ts)
        return self._threads[key]

    async def _send(self, out: Outbound) -> None:
        if out.kind == "retract":
            return  # a bot token cannot delete a person's message; the warning says to
        thread = self._thread(out.thread)
        if thread is None:
            log.error("slack: no thread known for %s; message dropped", out.thread)
            return
        metadata = {
            "event_type": METADATA_EVENT,
            "event_payload": {"step": out.step, "case_id": out.case_id},
        }
        text = _plain(out.text)  # it may quote what someone typed: never a ping or a link
        blocks = _blocks(text, out.choices, out.step)
        target = thread.refs.get(out.replaces or "") if out.replaces else None

        async def deliver() -> Any:
            if target:
                return await self.client.chat_update(
                    channel=thread.channel, ts=target, text=text, blocks=blocks, metadata=metadata
                )
            return await self.client.chat_postMessage(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                text=text,
                blocks=blocks,
                metadata=metadata,
            )

        try:
            # The client retries briefly itself; an outage is waited out here, in the
            # background of the acknowledged event.
            response = await with_backoff(
                deliver,
                _retry_reason,
                deadline=self.settings.delivery_deadline,
                on_retry=lambda reason: self.events.api_retry("slack", reason),
            )
        except Undelivered as exc:
            code = _error(exc.__cause__) if exc.__cause__ else "undelivered"
            self.events.api_error("slack", code)
            log.error("slack: case %s: a %s could not be delivered: %s", out.case_id, out.kind, exc)
            raise
        if target:
            return
        # An edit of a message this process never posted (a restart) posts it once, then edits.
        name = out.ref or out.replaces
        if name:
            thread.refs[name] = str(response["ts"])
        if out.kind == "summary" and out.step == "escalated" and self.settings.escalation_channel:
            try:
                await self._escalate(thread, out)
            except _FAILURES as exc:
                # The summary is in the thread already; only the helpdesk's copy is missing.
                self.events.api_error("slack", _error(exc))
                log.error(
                    "slack: case %s could not be handed over to %s: %s",
                    out.case_id,
                    self.settings.escalation_channel,
                    _error(exc),
                )

    async def _escalate(self, thread: _Thread, out: Outbound) -> None:
        assert self.settings.escalation_channel is not None
        link = f"\n<#{thread.channel}>" if thread.thread_ts is None else ""
        if thread.thread_ts:
            try:
                permalink = await self.client.chat_getPermalink(
                    channel=thread.channel, message_ts=thread.thread_ts
                )
                link = f"\n<{permalink['permalink']}|thread>"
            except _FAILURES:
                link = ""
        await self.client.chat_postMessage(
            channel=self.settings.escalation_channel, text=_plain(out.text) + link
        )


_STEP_BLOCK = "md-step:"


def _same_question(asked: str, current: str) -> bool:
    # ask_resolved's buttons stay valid while the diagnosis is on screen.
    return asked == current or {asked, current} <= {"diagnosis", "ask_resolved"}


# Slack's limits: the text of one message, and of one section (3000; a little is kept spare).
_MAX_TEXT = 40_000
_SECTION = 2900
_SEQUENCE = re.compile(r"<([^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def _from_slack(text: str) -> str:
    """A Slack message text as the person sees it, in plain characters.

    Slack sends a typed "<" as "&lt;" (and "&", ">" likewise) and turns mentions, channels and
    links into <…> sequences; the dialogue gets the words they show: "@U123" or "@name",
    "#general", "@here", a link's label (else its address), a mailto's address.
    """

    def shown(found: re.Match[str]) -> str:
        target, _, label = found.group(1).partition("|")
        if target.startswith(("@", "#")):
            return target[0] + (label.lstrip("@#") or target[1:])
        if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^…|fallback>
            return label or "@" + target[1:].split("^", 1)[0]
        if target.startswith("mailto:"):
            return label or target.removeprefix("mailto:")
        return label or target

    text = _SEQUENCE.sub(shown, text)
    return _ENTITY.sub(lambda found: _ENTITIES[found.group(1)], text)


def _plain(text: str) -> str:
    """Text for a mrkdwn field, made inert whatever someone typed into it.

    "&", "<" and ">" are escaped, so no <!channel>, <!here>, <@U…>, <#C…> or <url|label> can be
    formed; an "@" that starts a word gets an invisible word joiner after it, so Slack's automatic
    parsing cannot read "@here" or "@team" as a mention; and the text is cut to what Slack takes
    in one message (never inside an escape). A lone surrogate becomes U+FFFD.
    """
    text = inert(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(text) > _MAX_TEXT:
        text = _cut(text, _MAX_TEXT - 1) + "…"
    return text


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters of escaped text, not ending inside an "&amp;"-style escape."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    amp = head.rfind("&", max(0, limit - 4))
    return head[:amp] if amp != -1 and ";" not in head[amp:] else head


def _chunks(text: str, size: int = _SECTION) -> list[str]:
    """Escaped text in pieces of at most `size`, split at a line break where one is near."""
    chunks: list[str] = []
    while len(text) > size:
        head = _cut(text, size)
        newline = head.rfind("\n", size // 2)
        head = head[: newline + 1] if newline != -1 else head
        chunks.append(head)
        text = text[len(head) :]
    if text or not chunks:
        chunks.append(text)
    return chunks


def _answer_block(answer: str) -> dict[str, Any]:
    """The "→ answer" line that replaces a question's buttons. The label comes back in the
    click's payload, escaped by Slack; it is read back to plain text and escaped once."""
    shown = _plain(_from_slack(answer)[:200])
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"→ {shown}"}]}


def _blocks(text: str, choices: list[Choice], step: str = "") -> list[dict[str, Any]]:
    # A section holds at most 3000 characters: a long diagnosis becomes several sections.
    # `text` is escaped (_plain); the pieces are never cut inside an escape.
    chunks = [chunk for chunk in _chunks(text) if chunk.strip()][:40] or [" "]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in chunks
    ]
    if choices:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{_STEP_BLOCK}{step}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": CHOICE_ACTION if i == 0 else f"{CHOICE_ACTION}_{i}",
                        "text": {"type": "plain_text", "text": c.label[:75]},
                        "value": c.value[:2000],
                    }
                    for i, c in enumerate(choices[:25])
                ],
            }
        )
    return blocks
