"""`mail-doctor serve`: one HTTP server for every configured platform, health included.

Slack's Events API (events, interactivity and the slash command) arrives at /slack/events; the
other platforms' webhooks and the health endpoints share the same server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from adapters.slack import SlackAdapter, SlackSettings
from adapters.telegram import TelegramAdapter, TelegramSettings
from bot.storage import ConversationStore, open_store
from conversations.dialogue import Dialogue
from conversations.understanding import understand

log = logging.getLogger(__name__)


class ServeError(ValueError):
    """The environment does not describe anything that can be served; the message says why."""


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
    )


def build_app(
    store: ConversationStore, env: Mapping[str, str]
) -> tuple[web.Application, list[SlackAdapter | TelegramAdapter]]:
    dialogue = Dialogue(store)
    app = web.Application(client_max_size=1024 * 1024)
    adapters: list[SlackAdapter | TelegramAdapter] = []
    slack = slack_settings(env)
    if slack is not None:
        adapter = SlackAdapter(
            slack,
            dialogue,
            store.claim_event,
            reads_as_problem=lambda text: understand(text).intent == "report_problem",
        )
        adapters.append(adapter)

        async def slack_events(request: web.Request) -> web.Response:
            bolt_response = await adapter.app.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

        if not slack.app_token:  # with Socket Mode, events come over the WebSocket instead
            app.router.add_post("/slack/events", slack_events)

    telegram = telegram_settings(env)
    if telegram is not None:
        bot = TelegramAdapter(telegram, dialogue, store.claim_event)
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

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app, adapters


async def serve(env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    hours = env.get("MAIL_DOCTOR_IDLE_HOURS", "24")
    try:
        idle = float(hours) * 3600
    except ValueError:
        idle = -1.0
    if idle <= 0:
        raise ServeError(f"MAIL_DOCTOR_IDLE_HOURS: {hours!r} is not a positive number of hours")
    # A configuration error is told before anything starts.
    if slack_settings(env) is None and telegram_settings(env) is None:
        raise ServeError(
            "no platform is configured: set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET "
            "(or SLACK_APP_TOKEN), and/or TELEGRAM_BOT_TOKEN"
        )
    store = open_store(env.get("MAIL_DOCTOR_STORE"), idle_ttl=idle)
    app, adapters = build_app(store, env)
    host = env.get("MAIL_DOCTOR_HTTP_HOST", "0.0.0.0")
    port = int(env.get("MAIL_DOCTOR_HTTP_PORT", "3000"))
    runner = web.AppRunner(app)
    await runner.setup()
    sockets = [
        a.socket_mode() for a in adapters if isinstance(a, SlackAdapter) and a.settings.app_token
    ]
    telegrams = [a for a in adapters if isinstance(a, TelegramAdapter)]
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
        await asyncio.Event().wait()
    finally:
        for bot in telegrams:
            await bot.stop()
        for handler in sockets:
            await handler.close_async()
        for adapter in adapters:
            if isinstance(adapter, SlackAdapter):
                await adapter.drain()
        await runner.cleanup()
        await store.close()
