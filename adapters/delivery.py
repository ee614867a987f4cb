"""Getting a reply through to a platform that is down for a while: retried with growing waits
until it goes through or the delivery deadline passes; then `Undelivered`, which the dialogue
records in the case."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from conversations.events import Undelivered

T = TypeVar("T")

FIRST_WAIT = 0.5  # seconds before the first retry; doubled each time
LONGEST_WAIT = 10.0


async def with_backoff(
    call: Callable[[], Awaitable[T]],
    retry_reason: Callable[[BaseException], tuple[str, float | None] | None],
    *,
    deadline: float,
    on_retry: Callable[[str], None],
) -> T:
    """`call()` until it succeeds. `retry_reason(exc)` says whether a failure is worth another
    try: (reason, wait the platform asked for or None), or None to give up at once. After
    `deadline` seconds without success: Undelivered (the last error is its cause)."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + deadline
    wait = FIRST_WAIT
    while True:
        try:
            return await call()
        except Exception as exc:
            verdict = retry_reason(exc)
            if verdict is None:
                raise Undelivered(str(exc) or type(exc).__name__) from exc
            reason, asked = verdict
            pause = asked if asked is not None else wait
            if loop.time() + pause > give_up_at:
                raise Undelivered(f"still failing after {deadline:g}s ({reason})") from exc
            on_retry(reason)
            await asyncio.sleep(pause)
            wait = min(wait * 2, LONGEST_WAIT)
