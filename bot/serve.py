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


def build_app(
    store: ConversationStore, env: Mapping[str, str]
) -> tuple[web.Application, list[SlackAdapter]]:
    dialogue = Dialogue(store)
    app = web.Application(client_max_size=1024 * 1024)
    adapters: list[SlackAdapter] = []
    slack = slack_settings(env)
    if slack is not None:
        adapter = SlackAdapter(
            slack,
            dialogue,
            store.claim_event,
            reads_as_problem=lambda text: understand(text).intent == "report_problem",
        )
        adapters.append(adapter)
        if slack.app_token:
            return app, adapters  # Socket Mode: events arrive over the WebSocket, not here

        async def slack_events(request: web.Request) -> web.Response:
            bolt_response = await adapter.app.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

        app.router.add_post("/slack/events", slack_events)

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
    store = open_store(env.get("MAIL_DOCTOR_STORE"))
    app, adapters = build_app(store, env)
    if not adapters:
        raise ServeError("no platform is configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    host = env.get("MAIL_DOCTOR_HTTP_HOST", "0.0.0.0")
    port = int(env.get("MAIL_DOCTOR_HTTP_PORT", "3000"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("mail-doctor serving on %s:%d", host, port)
    sockets = [a.socket_mode() for a in adapters if a.settings.app_token]
    for handler in sockets:
        await handler.connect_async()
    try:
        await asyncio.Event().wait()
    finally:
        for handler in sockets:
            await handler.close_async()
        for adapter in adapters:
            await adapter.drain()
        await runner.cleanup()
        await store.close()
