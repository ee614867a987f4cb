"""`mail-doctor serve`: one HTTP server for every configured platform, health included.

Slack's Events API (events, interactivity and the slash command) arrives at /slack/events; the
other platforms' webhooks and the health endpoints share the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from adapters.slack import SlackAdapter, SlackSettings
from adapters.telegram import TelegramAdapter, TelegramSettings
from bot import logs
from bot.budget import Budget, BudgetError, Limits
from bot.config import ConfigError, Settings, env_number
from bot.metrics import CONTENT_TYPE, Metrics
from bot.probes.result import ProbeResult
from bot.storage import ConversationStore, StoreUnavailable, open_store
from conversations.checking import run_check
from conversations.dialogue import Dialogue
from conversations.events import ConversationKey, Inbound, Outbound
from conversations.retention import Retention, RetentionError, end_conversations
from conversations.understanding import understand

log = logging.getLogger(__name__)

Send = Callable[[Outbound], Awaitable[None]]


SLOT_MARGIN = 10.0  # a budget slot outlasts its check's deadline by this much, then lapses
SWEEP_INTERVAL = 10.0  # seconds between looks for checks a dead replica left unfinished
EXPIRE_INTERVAL = 600.0  # seconds between ends of idle conversations


class MeasuredDialogue:
    """The dialogue as the adapters see it, counting what goes in and out for /metrics."""

    def __init__(self, dialogue: Dialogue, metrics: Metrics) -> None:
        self.dialogue, self.metrics = dialogue, metrics

    def measured(self, platform: str, send: Send) -> Send:
        async def counted(out: Outbound) -> None:
            await send(out)
            self.metrics.sent(platform, out.kind, out.result)

        return counted

    async def handle(self, event: Inbound, send: Send) -> None:
        self.metrics.received(event.key.platform)
        await self.dialogue.handle(event, self.measured(event.key.platform, send))

    async def status(self, key: ConversationKey) -> str | None:
        return await self.dialogue.status(key)

    async def step(self, key: ConversationKey) -> str | None:
        return await self.dialogue.step(key)


DIALOGUE = web.AppKey("dialogue", MeasuredDialogue)


class ServeError(ValueError):
    """The environment does not describe anything that can be served; the message says why."""


def platform_timing(env: Mapping[str, str]) -> tuple[float, float]:
    """(seconds one platform API call may take, seconds a reply is retried while the
    platform is down)."""

    def seconds(name: str, default: float, top: float) -> float:
        try:
            return env_number(env, name, default, what="seconds", high=top)
        except ConfigError as exc:
            raise ServeError(str(exc)) from None

    return (
        seconds("MAIL_DOCTOR_PLATFORM_TIMEOUT", 10.0, 120.0),
        seconds("MAIL_DOCTOR_DELIVERY_SECONDS", 60.0, 3600.0),
    )


def slack_settings(env: Mapping[str, str]) -> SlackSettings | None:
    token, secret = env.get("SLACK_BOT_TOKEN"), env.get("SLACK_SIGNING_SECRET")
    app_token = env.get("SLACK_APP_TOKEN") or None
    if not token and not secret and not app_token:
        return None
    if not token or not (secret or app_token):
        raise ServeError(
            "Slack needs SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (Events API) "
            "or with SLACK_APP_TOKEN (Socket Mode)"
        )
    return SlackSettings(
        bot_token=token,
        signing_secret=None if app_token else secret,
        app_token=app_token,
        api_url=env.get("SLACK_API_URL") or "https://slack.com/api/",
        escalation_channel=env.get("SLACK_ESCALATION_CHANNEL") or None,
        keyword_cases=(
            env.get("MAIL_DOCTOR_SLACK_CASES", "mention_and_keywords") != "mention_only"
        ),
        api_timeout=platform_timing(env)[0],
        delivery_deadline=platform_timing(env)[1],
    )


def telegram_settings(env: Mapping[str, str]) -> TelegramSettings | None:
    token = env.get("TELEGRAM_BOT_TOKEN")
    if not token:
        return None
    webhook = env.get("TELEGRAM_WEBHOOK_URL") or None
    secret = env.get("TELEGRAM_WEBHOOK_SECRET") or None
    if webhook and not secret:
        raise ServeError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET")
    return TelegramSettings(
        token=token,
        base_url=env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org/bot",
        webhook_url=webhook,
        webhook_secret=secret,
        api_timeout=platform_timing(env)[0],
        delivery_deadline=platform_timing(env)[1],
    )


def build_app(
    store: ConversationStore, env: Mapping[str, str], metrics: Metrics | None = None
) -> tuple[web.Application, list[SlackAdapter | TelegramAdapter]]:
    metrics = metrics or Metrics()
    try:
        limits, timeout = Limits.from_env(env), Settings.from_env(env).timeout
        retention = Retention.from_env(env)
    except (BudgetError, ConfigError, RetentionError) as exc:
        raise ServeError(str(exc)) from None

    def observe(result: ProbeResult) -> None:
        seconds = sum(stage.ms for stage in result.stages) / 1000
        metrics.probe(str(result.endpoint.protocol), seconds)

    dialogue = Dialogue(
        store,
        functools.partial(run_check, observe=observe),
        budget=Budget(store, limits, slot_ttl=timeout + SLOT_MARGIN),
        retention=retention,
    )
    measured = MeasuredDialogue(dialogue, metrics)

    async def claim(event_id: str) -> bool:
        try:
            return await store.claim_event(event_id)
        except StoreUnavailable:
            return True  # let it through: the dialogue tells the person to try again soon

    app = web.Application(client_max_size=1024 * 1024)
    app[DIALOGUE] = measured
    adapters: list[SlackAdapter | TelegramAdapter] = []
    slack = slack_settings(env)
    if slack is not None:
        adapter = SlackAdapter(
            slack,
            measured,
            claim,
            reads_as_problem=lambda text: understand(text).intent == "report_problem",
            events=metrics,
        )
        adapters.append(adapter)

        async def slack_events(request: web.Request) -> web.Response:
            bolt_response = await adapter.app.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

        if not slack.app_token:  # with Socket Mode, events come over the WebSocket instead
            app.router.add_post("/slack/events", slack_events)

    telegram = telegram_settings(env)
    if telegram is not None:
        bot = TelegramAdapter(telegram, measured, claim, events=metrics)
        adapters.append(bot)

        async def telegram_webhook(request: web.Request) -> web.Response:
            try:
                payload = await request.json()
            except ValueError:
                return web.Response(status=400)
            secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            return web.Response(status=await bot.process_webhook(payload, secret))

        app.router.add_post("/telegram/webhook", telegram_webhook)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(request: web.Request) -> web.Response:
        ready = await store.ping()
        return web.json_response({"ok": ready}, status=200 if ready else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        try:
            body = await metrics.render(store)
        except StoreUnavailable as exc:
            log.warning("metrics: %s", exc)
            return web.Response(status=503, text="the conversation store is unavailable\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app, adapters


def send_for(
    adapters: list[SlackAdapter | TelegramAdapter], measured: MeasuredDialogue
) -> Callable[[ConversationKey], Send | None]:
    """How to reply in a conversation some replica started: through the adapter it is on."""

    def find(key: ConversationKey) -> Send | None:
        for adapter in adapters:
            send = adapter.sender(key)
            if send is not None:
                return measured.measured(key.platform, send)
        return None

    return find


async def sweep(
    store: ConversationStore,
    measured: MeasuredDialogue,
    adapters: list[SlackAdapter | TelegramAdapter],
    retention: Retention,
    stopping: asyncio.Event,
    interval: float = SWEEP_INTERVAL,
) -> None:
    """Until `stopping`: resume checks whose replica died, and now and then end conversations
    that are over (leaving case summaries) and delete case summaries past their retention.
    A round in progress when `stopping` is set is finished, checks included."""
    find = send_for(adapters, measured)
    prefixes = tuple("slack:" if isinstance(a, SlackAdapter) else "telegram:" for a in adapters)
    next_expiry = 0.0
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        try:
            resumed = await measured.dialogue.resume_stalled(find, prefixes)
            if resumed:
                log.info("resumed %d check(s) a stopped replica left unfinished", resumed)
            if loop.time() >= next_expiry:
                next_expiry = loop.time() + EXPIRE_INTERVAL
                ended = await end_conversations(store, retention)
                expired = await store.expire_idle()
                if ended or expired:
                    log.info("ended %d conversation(s), deleted %d old record(s)", ended, expired)
        except StoreUnavailable as exc:
            log.warning("sweep: %s", exc)
        except Exception:
            log.exception("sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)


async def serve(env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    try:
        logs.configure(
            env.get("MAIL_DOCTOR_LOG_LEVEL") or "INFO", env.get("MAIL_DOCTOR_LOG_FORMAT") or "json"
        )
    except logs.LogConfigError as exc:
        raise ServeError(str(exc)) from None
    try:
        retention = Retention.from_env(env)
    except RetentionError as exc:
        raise ServeError(str(exc)) from None
    port_text = env.get("MAIL_DOCTOR_HTTP_PORT") or "3000"
    port = int(port_text) if port_text.isdigit() else 0
    if not 0 < port < 65536:
        raise ServeError(f"MAIL_DOCTOR_HTTP_PORT: {port_text!r} is not a port number")
    host = env.get("MAIL_DOCTOR_HTTP_HOST") or "0.0.0.0"
    # A configuration error is told before anything starts.
    if slack_settings(env) is None and telegram_settings(env) is None:
        raise ServeError(
            "no platform is configured: set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET "
            "(or SLACK_APP_TOKEN), and/or TELEGRAM_BOT_TOKEN"
        )
    # The store keeps every record at most as long as a case summary; conversations end
    # sooner (the sweeper and the dialogue end them by the retention policy).
    store = open_store(env.get("MAIL_DOCTOR_STORE"), idle_ttl=retention.case)
    app, adapters = build_app(store, env)
    runner = web.AppRunner(app)
    await runner.setup()
    sockets = [
        a.socket_mode() for a in adapters if isinstance(a, SlackAdapter) and a.settings.app_token
    ]
    telegrams = [a for a in adapters if isinstance(a, TelegramAdapter)]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # docker stop, kubectl, systemctl, Ctrl-C
        loop.add_signal_handler(signum, stopping.set)
    sweeper: asyncio.Task[None] | None = None
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        log.info("mail-doctor serving on %s:%d", host, port)
        for handler in sockets:
            await handler.connect_async()
        for bot in telegrams:
            await bot.start(polling=not bot.settings.webhook_url)
        sweeper = asyncio.create_task(sweep(store, app[DIALOGUE], adapters, retention, stopping))
        await stopping.wait()
        log.info("mail-doctor stopping: finishing the work in hand")
    finally:
        stopping.set()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        # No new events first; then the work already taken is finished, not cut short.
        for handler in sockets:
            await handler.close_async()
        await runner.cleanup()  # before the bots stop: a webhook taken is a webhook handled
        for bot in telegrams:
            await bot.stop()
        for adapter in adapters:
            if isinstance(adapter, SlackAdapter):
                await adapter.drain()
        if sweeper is not None:
            await sweeper
        await store.close()
