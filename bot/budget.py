"""The probe budget: how many checks may run at once, and how often one person or workspace
may start one, kept in the conversation store so every replica counts against the same limits.

A check dials a bounded set of hosts; the budget bounds how many checks the bot runs, so no one
can use it to flood a mail server (or the bot's own network) by asking again and again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.config import ConfigError, env_number
from bot.storage import ConversationStore

WINDOW = 60.0  # rate limits are per minute
POOL = "checks"


class BudgetError(ConfigError):
    """A limit in the environment is not a usable number; the message names it."""


@dataclass(frozen=True)
class Limits:
    concurrent: int = 20  # checks running at once, over every replica
    per_user: int = 3  # checks a person may start per minute
    per_workspace: int = 30  # checks one Slack workspace or Telegram bot may start per minute
    queue_wait: float = 20.0  # seconds a check waits for a free slot before "try later"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        def number(name: str, default: int) -> int:
            try:
                return int(env_number(env, name, default, what="checks", whole=True))
            except ConfigError as exc:
                raise BudgetError(str(exc)) from None

        return cls(
            concurrent=number("MAIL_DOCTOR_MAX_CONCURRENT_CHECKS", cls.concurrent),
            per_user=number("MAIL_DOCTOR_USER_CHECKS_PER_MINUTE", cls.per_user),
            per_workspace=number("MAIL_DOCTOR_WORKSPACE_CHECKS_PER_MINUTE", cls.per_workspace),
        )


@dataclass(frozen=True)
class Admission:
    """Either a slot to run the check in (give it back with `Budget.done`) or a wait."""

    slot: str | None
    wait: float = 0.0  # seconds until the person may try again; 0 when admitted
    reason: str = ""  # "rate" (too many checks this minute) | "busy" (no free slot) if refused


class Budget:
    def __init__(
        self,
        store: ConversationStore,
        limits: Limits,
        *,
        slot_ttl: float,
        poll: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.limits = limits
        self.slot_ttl = slot_ttl  # a slot whose holder died comes back after this long
        self.poll = poll
        self._clock = clock

    async def admit(
        self,
        platform: str,
        workspace: str,
        user: str,
        waiting: Callable[[], Awaitable[None]] | None = None,
    ) -> Admission:
        """Count one check for the person and workspace, then wait for a free slot.

        `waiting` is called once if the check has to queue (to tell the person)."""
        limits = self.limits
        who, where = f"user:{platform}:{workspace}:{user}", f"workspace:{platform}:{workspace}"
        # Both counted or neither: a refused check must not use up the person's allowance.
        wait = await self.store.take_rate(
            [(who, limits.per_user), (where, limits.per_workspace)], WINDOW
        )
        if wait > 0:
            return Admission(None, _whole(wait), "rate")
        deadline = self._clock() + limits.queue_wait
        told = False
        while True:
            slot = await self.store.take_slot(POOL, limits.concurrent, self.slot_ttl)
            if slot is not None:
                return Admission(slot)
            if self._clock() >= deadline:
                return Admission(None, _whole(limits.queue_wait), "busy")
            if waiting is not None and not told:
                told = True
                await waiting()
            await asyncio.sleep(self.poll)

    async def done(self, admission: Admission) -> None:
        if admission.slot is not None:
            await self.store.release_slot(POOL, admission.slot)


def _whole(seconds: float) -> float:
    return float(max(1, math.ceil(seconds)))
