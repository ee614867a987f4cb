"""One asyncio loop in a background thread, for servers that tests drive from synchronous code."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path


class BackgroundLoop:
    """Runs `_start_servers` and `_stop_servers` (coroutines a subclass writes) on its own loop.

    start() and stop() are called from the test thread; errors the loop does not otherwise
    report (a client that rejects a certificate or hangs up mid-handshake is expected) are
    written to `log`.
    """

    def __init__(self, name: str, log: Path) -> None:
        self.log = log
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    async def _start_servers(self) -> None:
        raise NotImplementedError

    async def _stop_servers(self) -> None:
        raise NotImplementedError

    # --- lifecycle (called from the test thread) ---

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_servers(), self._loop).result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop_servers(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(self._log_exception)
        self._loop.run_forever()

    def _log_exception(self, _loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        with self.log.open("a") as f:
            f.write(f"loop: {context.get('message')} {context.get('exception')!r}\n")
