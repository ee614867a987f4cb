"""What the fake platform servers share: waiting until something they recorded has happened,
and serving on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web


@dataclass
class Waiter:
    event: asyncio.Event = field(default_factory=asyncio.Event)


class Changes:
    """Mixin: call `_changed()` after every recorded change; tests `await wait_for(...)`."""

    _waiter: Waiter

    def dump(self) -> str:
        raise NotImplementedError

    def _changed(self) -> None:
        self._waiter.event.set()
        self._waiter = Waiter()

    async def wait_for(self, predicate: Callable[..., Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate(fake)` (or `predicate()`) is truthy and return its value;
        re-checked on every change and every 50 ms. AssertionError with a call dump on timeout."""
        check = _bind(predicate, self)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{type(self).__name__}.wait_for: condition not met within {timeout}s.\n"
                    f"Calls:\n{self.dump()}"
                )
            waiter = self._waiter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.event.wait(), min(remaining, 0.05))


def _bind(predicate: Callable[..., Any], fake: object) -> Callable[[], Any]:
    """Accept both `lambda fake: …` and `lambda: …` predicates."""
    try:
        required = [
            p
            for p in inspect.signature(predicate).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        required = [None]  # type: ignore[list-item]
    if required:
        return lambda: predicate(fake)
    return predicate


@dataclass
class Outage:
    """A method of a fake platform failing for a while (`outage()` on either fake)."""

    until: float  # time.monotonic()
    status: int
    hang: float  # seconds of silence before the failure: longer than a client waits


class LocalServer(Changes):
    """Mixin for the fake platform servers: an aiohttp app on a loopback port, as a context
    manager. Subclasses set `host` and `port` (0: any free port) and build `_app()`."""

    host: str
    port: int
    _runner: web.AppRunner | None = None
    shutdown_timeout: float = 60.0

    def _app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self._app(), access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
