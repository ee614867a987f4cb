"""The real bot app (bot.serve.build_app) served on a free loopback port, for the tests that talk
to it over HTTP as Slack or Telegram would; the platforms themselves are the fakes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import web
from fakeslack import FakeSlack
from faketelegram import FakeTelegram

from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from bot.metrics import Metrics
from bot.serve import build_app
from bot.storage import ConversationStore

TELEGRAM_TOKEN = "123456:TEST-TOKEN"
TELEGRAM_WEBHOOK = "https://bot.example/telegram/webhook"


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT, without a path
    app: web.Application
    adapters: list[SlackAdapter | TelegramAdapter]
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        """As `mail-doctor serve` stops: Telegram adapters stopped, Slack's work in hand
        finished, then the HTTP server closed (once). The store is the caller's to close."""
        if self.stopped:
            return
        self.stopped = True
        for adapter in self.adapters:
            if isinstance(adapter, TelegramAdapter):
                await adapter.stop()
            else:
                await adapter.drain()
        await self.runner.cleanup()


@contextlib.asynccontextmanager
async def serve_app(
    store: ConversationStore, env: Mapping[str, str], metrics: Metrics | None = None
) -> AsyncIterator[Served]:
    """build_app(store, env, metrics) listening on 127.0.0.1 at a free port. Telegram adapters
    are started for webhooks (set with TELEGRAM_WEBHOOK_URL) before the port opens."""
    app, adapters = build_app(store, env, metrics)
    for adapter in adapters:
        if isinstance(adapter, TelegramAdapter):
            await adapter.start(polling=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    served = Served(f"http://127.0.0.1:{runner.addresses[0][1]}", app, adapters, runner)
    try:
        yield served
    finally:
        await served.stop()


def slack_env(fake: FakeSlack, secret: str, **more: str) -> dict[str, str]:
    """The environment of a bot on the fake Slack's Events API, signed with `secret`."""
    return {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": fake.base_url,
        **more,
    }


def telegram_webhook_env(fake: FakeTelegram, secret: str) -> dict[str, str]:
    """The environment of a bot that gets the fake Telegram's updates by webhook."""
    return {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_WEBHOOK_URL": TELEGRAM_WEBHOOK,
        "TELEGRAM_WEBHOOK_SECRET": secret,
    }
