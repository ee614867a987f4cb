"""A local Socket Mode endpoint: apps.connections.open and the WebSocket Slack pushes events on.

It answers the app token's apps.connections.open with a ws:// URL of its own, says hello on
connect, sends each queued envelope, and records the acknowledgements the app sends back.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    def __init__(self, app_token: str = "xapp-fake-token") -> None:
        self.app_token = app_token
        self.acks: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def __aenter__(self) -> FakeSocketMode:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def push_event(self, event_callback: dict[str, Any]) -> str:
        """Queue an Events API payload as Slack would send it over the socket."""
        envelope_id = str(uuid.uuid4())
        self._queue.put_nowait(
            {
                "envelope_id": envelope_id,
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": event_callback,
            }
        )
        return envelope_id

    async def _open(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.app_token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        sender = asyncio.ensure_future(self._send_all(ws))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
        finally:
            sender.cancel()
        return ws

    async def _send_all(self, ws: web.WebSocketResponse) -> None:
        while True:
            envelope = await self._queue.get()
            await ws.send_str(json.dumps(envelope))
