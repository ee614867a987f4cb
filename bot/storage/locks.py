"""Store locks held for as long as the work takes: waited for, renewed while held, given back.

A lock's ttl is how soon it lapses once its holder stops renewing it (the process died), not
how long the work may take: a holder renews it every ttl/3 while it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .base import ConversationStore, StoreUnavailable

log = logging.getLogger(__name__)


@asynccontextmanager
async def kept(store: ConversationStore, name: str, token: str, ttl: float) -> AsyncIterator[None]:
    """Renew the lock `token` holds every ttl/3 for the block; give it back after."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                if not await store.extend_lock(name, token, ttl):
                    log.warning("lock %s: lost while held (it lapsed)", name)
                    return
            except StoreUnavailable as exc:
                log.warning("lock %s: could not be renewed: %s", name, exc)

    heartbeat = asyncio.create_task(beat())
    try:
        yield
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        with contextlib.suppress(StoreUnavailable):
            await store.release_lock(name, token)


@asynccontextmanager
async def held(
    store: ConversationStore, name: str, *, ttl: float, wait: float
) -> AsyncIterator[str | None]:
    """Hold lock `name` for the block (renewed while held), waiting up to `wait` seconds.

    Yields the token, or None if the lock could not be had in time: the caller goes on
    without it (the store's version check still refuses a lost update), so a holder that
    hangs delays a conversation but never stops it.
    """
    deadline = time.monotonic() + wait
    delay = 0.01
    token = await store.acquire_lock(name, ttl)
    while token is None and time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)
        token = await store.acquire_lock(name, ttl)
    if token is None:
        log.warning("lock %s: still held after %.0fs; going on without it", name, wait)
        yield None
        return
    async with kept(store, name, token, ttl):
        yield token
