"""Waiting for a store lock, for code that must not run twice at once across replicas."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .base import ConversationStore

log = logging.getLogger(__name__)


@asynccontextmanager
async def held(
    store: ConversationStore, name: str, *, ttl: float, wait: float
) -> AsyncIterator[str | None]:
    """Hold lock `name` for the block, waiting up to `wait` seconds for it.

    Yields the token, or None if the lock could not be had in time: the caller goes on
    without it (the store's version check still refuses a lost update), so a lock whose
    holder hangs delays a conversation but never stops it.
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
    try:
        yield token
    finally:
        if token is not None:
            await store.release_lock(name, token)
