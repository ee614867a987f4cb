"""How long the bot keeps what people told it, and forgetting one person on request.

A conversation ends when it has been idle for `Retention.idle` or began more than
`Retention.conversation` ago. Its record — the last turns people wrote (redacted), their address
and settings — is then replaced by a case summary without any of that: ids, status, step,
symptom, domain, app, the likely cause. Summaries are kept for `Retention.case`, so the helpdesk's
`mail-doctor cases --summary` can count causes over weeks. `forget` deletes every conversation and
case summary of one person.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import ConfigError, env_number
from bot.storage import ConversationStore, Record, StaleWrite
from bot.storage.locks import held
from conversations.events import ConversationKey

log = logging.getLogger(__name__)

CASE_PREFIX = "case:"
SUMMARY_SCHEMA = 1
HOUR, DAY = 3600.0, 86400.0
EXPLAINED = "explained:"  # a `tried` entry: a pasted error explained as this cause id


class RetentionError(ConfigError):
    """A retention setting is not usable; the message names it."""


@dataclass(frozen=True)
class Retention:
    idle: float = 24 * HOUR  # MAIL_DOCTOR_IDLE_HOURS
    conversation: float = 30 * DAY  # MAIL_DOCTOR_RETENTION_DAYS
    case: float = 365 * DAY  # MAIL_DOCTOR_CASE_RETENTION_DAYS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Retention:
        def seconds(name: str, default: float, unit: float, unit_name: str) -> float:
            try:
                return env_number(env, name, default / unit, what=unit_name) * unit
            except ConfigError as exc:
                raise RetentionError(str(exc)) from None

        retention = cls(
            idle=seconds("MAIL_DOCTOR_IDLE_HOURS", cls.idle, HOUR, "hours"),
            conversation=seconds("MAIL_DOCTOR_RETENTION_DAYS", cls.conversation, DAY, "days"),
            case=seconds("MAIL_DOCTOR_CASE_RETENTION_DAYS", cls.case, DAY, "days"),
        )
        if retention.case < retention.conversation:
            raise RetentionError(
                "MAIL_DOCTOR_CASE_RETENTION_DAYS must be at least MAIL_DOCTOR_RETENTION_DAYS: "
                "a case summary outlives its conversation"
            )
        return retention

    def ended(self, record: Record, now: float) -> bool:
        """True if the conversation in `record` is over: idle too long, or too old."""
        created = record.state.get("created_at")
        began = created if isinstance(created, int | float) else record.updated_at
        return record.updated_at < now - self.idle or began < now - self.conversation


def is_case_summary(record: Record) -> bool:
    return record.key.startswith(CASE_PREFIX)


def people(record: Record) -> set[str]:
    """The platform user ids of everyone who wrote in the conversation (or its summary)."""
    found = {str(p) for p in record.state.get("people", []) if p}
    key = ConversationKey.parse(str(record.state.get("conversation", record.key)))
    if key is not None and key.user != "-":
        found.add(key.user)
    return found


def case_summary(record: Record) -> dict[str, Any] | None:
    """What is kept of a conversation once it ends: nothing anybody wrote. None for a record
    that is not a conversation."""
    from bot.cases import case_row  # the helpdesk's view of a case: one definition

    row = case_row(record)
    if row is None:
        return None
    raw = record.state.get("tried")
    tried = raw if isinstance(raw, list) else []
    return {
        "kind": "case",
        "conversation": record.key,
        "case_id": row.case_id,
        "status": row.status,
        "step": row.step,
        "symptom": row.symptom,
        "domain": row.domain,
        "app": row.app,
        "likely_cause": row.likely_cause,
        "checked": row.checked,
        "tried": sorted({t for t in tried if isinstance(t, str) and t.startswith(EXPLAINED)}),
        "created_at": row.opened,
        "updated_at": row.updated,
        "people": sorted(people(record)),
    }


async def end(store: ConversationStore, record: Record, *, locked: bool = False) -> bool:
    """Replace the conversation `record` by its case summary. False if it changed meanwhile
    (someone wrote: it is not over). `locked`: the caller holds the conversation's lock."""
    if locked:
        return await _end(store, record)
    async with held(store, f"conv:{record.key}", ttl=30, wait=5) as token:
        if token is None:
            return False  # a turn of it is going on: not over; the next sweep looks again
        current = await store.load(record.key)
        if current is None or current.version != record.version:
            return False
        return await _end(store, current)


async def _end(store: ConversationStore, record: Record) -> bool:
    summary = case_summary(record)
    if summary is not None and summary.get("case_id"):
        name = CASE_PREFIX + str(summary["case_id"])
        for _attempt in range(3):
            existing = await store.load(name)
            try:
                await store.save(name, summary, SUMMARY_SCHEMA, existing.version if existing else 0)
                break
            except StaleWrite:
                continue
    await store.delete(record.key)
    return True


async def end_conversations(
    store: ConversationStore, retention: Retention, now: float | None = None
) -> int:
    """End every conversation that is over; how many were ended."""
    now = time.time() if now is None else now
    ended = 0
    for record in await store.list_records():
        if is_case_summary(record) or ConversationKey.parse(record.key) is None:
            continue
        if retention.ended(record, now) and await end(store, record):
            ended += 1
    return ended


async def forget(store: ConversationStore, platform: str, user: str) -> tuple[int, int]:
    """Delete every conversation and case summary of `user` on `platform`: (conversations,
    summaries) deleted. A shared channel thread the person wrote in goes as a whole: its
    record holds what they wrote."""
    conversations = summaries = 0
    for record in await store.list_records():
        summary = is_case_summary(record)
        key = ConversationKey.parse(
            str(record.state.get("conversation", "")) if summary else record.key
        )
        if key is None or key.platform != platform or user not in people(record):
            continue
        await store.delete(record.key)
        if summary:
            summaries += 1
        else:
            conversations += 1
    log.info("forgot a person: %d conversation(s), %d case summary(ies)", conversations, summaries)
    return conversations, summaries
